package de.metaleg.deploy;

import static de.metaleg.deploy.RecordingApiServer.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.AgentMain;
import de.metaleg.agent.KubeStatusSink;
import de.metaleg.agent.kernel.Dataplane;
import de.metaleg.agent.loop.AgentLoop;
import de.metaleg.agent.loop.AgentMetrics;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.render.DataplaneRenderer;
import de.metaleg.agent.render.MarkAllocator;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * RBAC derived from the code, agent side: the agent's real watch and status writer run against the
 * recording mock API server (the kernel is replaced by a renderer-only dataplane); every request
 * must be allowed by config/rbac/agent.yaml, and every grant must be used.
 */
class AgentRbacMockTest {
  static final String AGENT = "metaleg-agent-under-test";

  /** Renders the plan and programs nothing: this test is about the API, not the kernel. */
  record RenderOnly(NodeFacts facts) implements Dataplane {
    @Override
    public String firewallBackend() {
      return "render-only";
    }

    @Override
    public String routeBackend() {
      return "render-only";
    }

    @Override
    public SyncResult sync(DesiredPlan plan, boolean full) {
      var allocation =
          MarkAllocator.allocate(
              Map.of(), MarkAllocator.gatewayNodes(plan), facts.marks().maxIndex());
      return new SyncResult(
          DataplaneRenderer.render(plan, facts, allocation, Set.of()), full, List.of(), Map.of());
    }

    @Override
    public Optional<String> drift() {
      return Optional.empty();
    }
  }

  @Test
  void everyRequestTheAgentSendsIsAllowedByItsRbac() throws Exception {
    RecordingApiServer.Check check;
    try (RecordingApiServer api = new RecordingApiServer()) {
      EgressEntry gw = new EgressEntry();
      gw.setService("app/web");
      gw.setRole("Gateway");
      gw.setReason("AnnouncedByThisNode");
      gw.setGatewayNode("node-1");
      gw.setSnatIPv4("198.51.100.10");
      gw.setSourceIPv4s(List.of("10.244.1.5"));
      api.setup
          .resource(EgressPlan.forNode("node-1", new EgressPlanSpec("node-1", List.of(gw))))
          .create();
      AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-1"));
      try (KubernetesClient asAgent = api.clientAs(AGENT);
          AgentLoop loop =
              new AgentLoop(
                  "node-1",
                  new RenderOnly(new NodeFacts(config.markSpace(), config.excludeDestinations())),
                  new KubeStatusSink(asAgent),
                  new AgentMetrics(),
                  Clock.systemUTC(),
                  "test",
                  Duration.ofHours(1),
                  Duration.ofHours(1))) {
        var informer = AgentMain.watch(asAgent, "node-1", loop);
        loop.start();
        try {
          await(() -> status(api.setup) != null && status(api.setup).getGatewayEntries() == 1);
        } finally {
          informer.close();
        }
      }
      check = api.check(AGENT, Rbac.of(Manifests.objects(Manifests.CONFIG), "metaleg-agent"));
    }
    assertTrue(check.seen().contains("watch metaleg.de/egressplans"), "seen: " + check.seen());
    assertTrue(
        check.denied().isEmpty(), "config/rbac/agent.yaml does not allow: " + check.denied());
    // get beside list/watch: the conventional read triple
    Set<String> unused = new java.util.TreeSet<>(check.unused());
    unused.removeAll(Set.of("get metaleg.de/egressplans"));
    assertEquals(Set.of(), unused, "granted but never used (least privilege): " + check.seen());
  }

  static de.metaleg.api.v1alpha1.EgressPlanStatus status(KubernetesClient c) {
    EgressPlan p = c.resources(EgressPlan.class).withName("node-1").get();
    return p == null ? null : p.getStatus();
  }
}
