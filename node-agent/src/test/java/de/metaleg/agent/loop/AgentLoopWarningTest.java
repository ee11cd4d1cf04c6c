package de.metaleg.agent.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.kernel.RecordingDataplane;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import io.fabric8.kubernetes.api.model.Condition;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * A dataplane observation ({@code Dataplane.warning()}, e.g. a CNI fighting over our jumps) reaches
 * the plan's Degraded condition with the next sync, and leaves it when it is over. No API server:
 * the status sink records what would be written. Pods 10.244.1.x, node IPs 192.0.2.x.
 */
class AgentLoopWarningTest {
  private static Condition degraded(EgressPlanStatus s) {
    return s.condition(EgressPlanStatus.CONDITION_DEGRADED).orElseThrow();
  }

  private static EgressPlanStatus awaitWrite(List<EgressPlanStatus> writes, int n)
      throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (writes.size() < n) {
      assertTrue(System.nanoTime() < end, "no status write #" + n);
      Thread.sleep(20);
    }
    return writes.get(n - 1);
  }

  @Test
  void dataplaneWarningIsPartOfDegraded() throws Exception {
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    RecordingDataplane dp =
        new RecordingDataplane(new NodeFacts(config.markSpace(), config.excludeDestinations()));
    List<EgressPlanStatus> writes = new CopyOnWriteArrayList<>();
    try (AgentLoop loop =
        new AgentLoop(
            "node-a",
            dp,
            (name, status) -> writes.add(status),
            new AgentMetrics(),
            Clock.systemUTC(),
            "test",
            Duration.ofHours(1),
            Duration.ofHours(1))) {
      EgressPlan plan =
          EgressPlan.forNode(
              "node-a",
              new EgressPlanSpec(
                  "node-a", List.of(AgentLoopMockTest.forward("shop/web", "10.244.1.5"))));
      plan.getMetadata().setGeneration(1L);
      loop.onPlan(plan);
      assertEquals("False", degraded(awaitWrite(writes, 1)).getStatus());

      dp.warning = Optional.of("JumpFight: ... use FIREWALL_BACKEND=nftables");
      loop.trigger(true);
      Condition c = degraded(awaitWrite(writes, 2));
      assertEquals("True", c.getStatus());
      assertTrue(c.getMessage().contains("FIREWALL_BACKEND=nftables"), c.getMessage());

      dp.warning = Optional.empty();
      loop.trigger(true);
      assertEquals("False", degraded(awaitWrite(writes, 3)).getStatus());
    }
  }
}
