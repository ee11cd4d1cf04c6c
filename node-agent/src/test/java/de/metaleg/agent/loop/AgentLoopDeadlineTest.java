package de.metaleg.agent.loop;

import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.kernel.Dataplane;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.render.DataplaneRenderer;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** A dataplane that names a deadline (a drain ending) is synced again then, without any event. */
class AgentLoopDeadlineTest {
  @Test
  void syncsAgainAtTheDataplanesDeadline() throws Exception {
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-1"));
    NodeFacts facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
    List<DesiredPlan> synced = new CopyOnWriteArrayList<>();
    Dataplane fake =
        new Dataplane() {
          @Override
          public String firewallBackend() {
            return "fake";
          }

          @Override
          public String routeBackend() {
            return "fake";
          }

          @Override
          public SyncResult sync(DesiredPlan plan, boolean full) {
            synced.add(plan);
            return new SyncResult(
                DataplaneRenderer.render(plan, facts, Map.of(), Set.of()),
                full,
                List.of(),
                Map.of());
          }

          @Override
          public Optional<Instant> nextDeadline() {
            return synced.size() == 1
                ? Optional.of(Instant.now().plusMillis(300))
                : Optional.empty();
          }

          @Override
          public Optional<String> drift() {
            return Optional.empty();
          }
        };
    try (AgentLoop loop =
        new AgentLoop(
            "node-1",
            fake,
            (node, status) -> {},
            new AgentMetrics(),
            Clock.systemUTC(),
            "test",
            Duration.ofHours(1),
            Duration.ofHours(1))) {
      EgressEntry e = new EgressEntry();
      e.setService("shop/web");
      e.setRole("Reject");
      e.setReason("NoAnnouncer");
      e.setSourceIPv4s(List.of("10.244.1.5"));
      EgressPlan plan = new EgressPlan();
      plan.setMetadata(new ObjectMetaBuilder().withName("node-1").withGeneration(1L).build());
      plan.setSpec(new EgressPlanSpec("node-1", List.of(e)));
      loop.onPlan(plan);
      long deadline = System.nanoTime() + 5_000_000_000L;
      while (synced.size() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(synced.size() >= 2, "synced again at the deadline: " + synced.size());
    }
  }
}
