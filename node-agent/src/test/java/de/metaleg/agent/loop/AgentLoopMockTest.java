package de.metaleg.agent.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.AgentMain;
import de.metaleg.agent.KubeStatusSink;
import de.metaleg.agent.kernel.Dataplane;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.DataplaneRenderer;
import de.metaleg.agent.render.MarkAllocator;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import de.metaleg.testing.CrudApiServer;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The agent loop against fabric8's mock API server (CRUD mode, EgressPlan CRD from config/crd) with
 * a hand-written fake dataplane that records every sync. Node IPs 192.0.2.x, pods 10.244.1.x, LB
 * IPs 198.51.100.x.
 */
class AgentLoopMockTest {
  /** Renders like the real dataplane and records what it was asked to program. */
  static final class FakeDataplane implements Dataplane {
    final List<DesiredPlan> synced = new CopyOnWriteArrayList<>();
    final List<Boolean> fullFlags = new CopyOnWriteArrayList<>();
    volatile Optional<String> drift = Optional.empty();
    final NodeFacts facts;

    FakeDataplane(NodeFacts facts) {
      this.facts = facts;
    }

    @Override
    public String firewallBackend() {
      return "iptables-nft";
    }

    @Override
    public String routeBackend() {
      return "netlink";
    }

    @Override
    public SyncResult sync(DesiredPlan plan, boolean full) {
      synced.add(plan);
      fullFlags.add(full);
      drift = Optional.empty();
      var alloc =
          MarkAllocator.allocate(
              Map.of(), MarkAllocator.gatewayNodes(plan), facts.marks().maxIndex());
      return new SyncResult(
          DataplaneRenderer.render(plan, facts, alloc, java.util.Set.of()),
          full,
          List.of(),
          Map.of());
    }

    @Override
    public Optional<String> drift() {
      return drift;
    }

    final List<java.util.Set<String>> recoverRequests = new CopyOnWriteArrayList<>();

    @Override
    public Map<String, List<Entry>> recoverEntries(
        java.util.Set<String> services, DesiredPlan plan) {
      recoverRequests.add(services);
      // what a previous agent process had programmed for shop/bad
      return Map.of(
          "shop/bad",
          List.of(
              new Entry(
                  "shop/bad",
                  de.metaleg.common.net.Family.V4,
                  de.metaleg.api.v1alpha1.Role.Reject,
                  "RecoveredFromKernel",
                  Optional.empty(),
                  Optional.empty(),
                  Optional.empty(),
                  List.of("10.244.1.66"))));
    }
  }

  private KubernetesMockServer server;
  private KubernetesClient client;
  private FakeDataplane dataplane;
  private AgentMetrics metrics;
  private AgentLoop loop;
  private SharedIndexInformer<EgressPlan> informer;

  @BeforeEach
  void setUp() throws Exception {
    server = CrudApiServer.start();
    client = server.createClient();
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    dataplane = new FakeDataplane(new NodeFacts(config.markSpace(), config.excludeDestinations()));
    metrics = new AgentMetrics();
    loop =
        new AgentLoop(
            "node-a",
            dataplane,
            new KubeStatusSink(client),
            metrics,
            Clock.systemUTC(),
            "test",
            Duration.ofHours(1),
            Duration.ofMillis(100));
    informer = AgentMain.watch(client, "node-a", loop);
    loop.start();
  }

  @AfterEach
  void tearDown() {
    informer.close();
    loop.close();
    client.close();
    server.destroy();
  }

  static EgressEntry forward(String service, String... sources) {
    EgressEntry e = new EgressEntry();
    e.setService(service);
    e.setRole("Forward");
    e.setReason("AnnouncedByOtherNode");
    e.setGatewayNode("node-b");
    e.setGatewayIPv4("192.0.2.2");
    e.setSnatIPv4("198.51.100.10");
    e.setSourceIPv4s(List.of(sources));
    return e;
  }

  private EgressPlanStatus status(String name) {
    EgressPlan p = client.resources(EgressPlan.class).withName(name).get();
    return p == null ? null : p.getStatus();
  }

  private static Condition condition(EgressPlanStatus s, String type) {
    return s.getConditions().stream()
        .filter(c -> type.equals(c.getType()))
        .findFirst()
        .orElseThrow();
  }

  private static void await(String what, BooleanSupplier check) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!check.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(20);
    }
  }

  @Test
  void programsOwnPlanWritesStatusKeepsLastGoodAndDoesNotStorm() throws Exception {
    var plans = client.resources(EgressPlan.class);
    plans
        .resource(
            EgressPlan.forNode(
                "node-b",
                new EgressPlanSpec("node-b", List.of(forward("other/svc", "10.244.9.9")))))
        .create();
    plans
        .resource(
            EgressPlan.forNode(
                "node-a",
                new EgressPlanSpec(
                    "node-a",
                    List.of(forward("shop/web", "10.244.1.5"), forward("shop/api", "10.244.1.6")))))
        .create();

    await(
        "Ready status",
        () -> status("node-a") != null && status("node-a").getObservedGeneration() != null);
    EgressPlanStatus s = status("node-a");
    assertEquals("True", condition(s, "Ready").getStatus());
    assertEquals("False", condition(s, "Degraded").getStatus());
    assertEquals(2, s.getForwardEntries());
    assertEquals("node-b", s.getGateways().get(0).getNode());
    assertEquals("0x100000", s.getGateways().get(0).getMark());
    assertEquals(100001L, s.getGateways().get(0).getTable());
    assertEquals("iptables-nft", s.getFirewallBackend());
    assertEquals("netlink", s.getRouteBackend());
    assertEquals("test", s.getAgentVersion());
    assertNotNull(s.getLastSyncTime());
    assertTrue(loop.ready());
    assertTrue(dataplane.fullFlags.get(0), "the first sync adopts the kernel: full");
    assertNull(status("node-b"), "another node's plan is neither programmed nor written");
    assertTrue(
        dataplane.synced.stream()
            .flatMap(p -> p.entries().stream())
            .noneMatch(e -> e.service().equals("other/svc")));
    String readySince = condition(s, "Ready").getLastTransitionTime();

    // no status write storm: many resyncs with nothing changed write nothing
    double writes = metrics.statusWrites();
    int syncs = dataplane.synced.size();
    for (int i = 0; i < 20; i++) {
      loop.trigger(true);
    }
    await("resyncs", () -> dataplane.synced.size() > syncs);
    Thread.sleep(300);
    assertEquals(
        writes, metrics.statusWrites(), "periodic resyncs must not rewrite an unchanged status");

    // a hand-edited bad entry: Degraded names it, its last good state stays programmed
    EgressPlan edited = plans.withName("node-a").get();
    edited.getSpec().getEntries().get(1).setSourceIPv4s(List.of("10.244.1.6", "not-an-ip"));
    edited.getSpec().getEntries().get(0).setSourceIPv4s(List.of("10.244.1.5", "10.244.1.7"));
    plans.resource(edited).update();
    await("Degraded", () -> "True".equals(condition(status("node-a"), "Degraded").getStatus()));
    s = status("node-a");
    assertTrue(
        condition(s, "Degraded").getMessage().contains("shop/api"),
        condition(s, "Degraded").getMessage());
    assertTrue(condition(s, "Degraded").getMessage().contains("not-an-ip"));
    assertEquals(readySince, condition(s, "Ready").getLastTransitionTime(), "Ready did not change");
    assertEquals(2, s.getConditions().size());
    assertEquals(1, s.getGateways().size());
    DesiredPlan last = dataplane.synced.get(dataplane.synced.size() - 1);
    Entry api =
        last.entries().stream()
            .filter(e -> e.service().equals("shop/api"))
            .findFirst()
            .orElseThrow();
    assertEquals(List.of("10.244.1.6"), api.sources(), "last good shop/api kept");
    Entry web =
        last.entries().stream()
            .filter(e -> e.service().equals("shop/web"))
            .findFirst()
            .orElseThrow();
    assertEquals(List.of("10.244.1.5", "10.244.1.7"), web.sources(), "good entries still move on");

    // unknown role: also only that entry is degraded
    edited = plans.withName("node-a").get();
    edited.getSpec().getEntries().get(1).setSourceIPv4s(List.of("10.244.1.6"));
    edited.getSpec().getEntries().get(1).setRole("Teleport");
    plans.resource(edited).update();
    await(
        "unknown role reported",
        () -> condition(status("node-a"), "Degraded").getMessage().contains("Teleport"));

    // the canary's drift triggers a full resync
    int before = dataplane.synced.size();
    dataplane.drift = Optional.of("chain METALEG-MARK missing");
    await(
        "canary resync",
        () ->
            dataplane.synced.size() > before
                && dataplane.fullFlags.get(dataplane.fullFlags.size() - 1));
    assertTrue(metrics.scrape().contains("metaleg_agent_canary_resyncs_total"));

    // plan deleted: fail static, nothing synced (kernel keeps its state)
    int afterCanary = dataplane.synced.size();
    plans.withName("node-a").delete();
    Thread.sleep(300);
    loop.trigger(true);
    Thread.sleep(200);
    assertEquals(afterCanary, dataplane.synced.size(), "no sync without a plan");
    assertTrue(metrics.scrape().contains("metaleg_agent_plan_present 0.0"));
    String scrape = metrics.scrape();
    for (String name :
        List.of(
            "metaleg_agent_sync_duration_seconds_bucket{kind=\"full\"",
            "metaleg_agent_sync_duration_seconds_count{kind=\"incremental\"}",
            "metaleg_agent_sync_failures_total",
            "metaleg_agent_entries{role=\"Forward\"} 2.0",
            "metaleg_agent_rules{role=\"Forward\"}",
            "metaleg_agent_last_success_timestamp_seconds",
            "metaleg_agent_status_writes_total")) {
      assertTrue(scrape.contains(name), name + " in\n" + scrape);
    }
  }

  @Test
  void afterARestartAnInvalidEntryKeepsWhatTheKernelHasForIt() throws Exception {
    EgressEntry bad = forward("shop/bad", "10.244.1.66");
    bad.setGatewayIPv4("192.0.2.300");
    client
        .resources(EgressPlan.class)
        .resource(
            EgressPlan.forNode(
                "node-a",
                new EgressPlanSpec("node-a", List.of(forward("shop/web", "10.244.1.5"), bad))))
        .create();
    await(
        "Degraded", () -> status("node-a") != null && !status("node-a").getConditions().isEmpty());
    assertEquals("True", condition(status("node-a"), "Degraded").getStatus());
    assertTrue(condition(status("node-a"), "Degraded").getMessage().contains("192.0.2.300"));
    assertEquals(List.of(java.util.Set.of("shop/bad")), dataplane.recoverRequests);
    DesiredPlan first = dataplane.synced.get(0);
    assertTrue(
        first.entries().stream().anyMatch(e -> e.service().equals("shop/bad")),
        "recovered entry stays programmed");
    assertEquals(1, status("node-a").getRejectEntries());
    loop.trigger(true);
    await("second sync", () -> dataplane.synced.size() >= 2);
    assertEquals(
        1, dataplane.recoverRequests.size(), "the kernel is asked once, then the state is carried");
    assertTrue(
        dataplane.synced.get(1).entries().stream().anyMatch(e -> e.service().equals("shop/bad")));
  }

  private static void assertNull(Object o, String message) {
    assertTrue(o == null, message);
  }
}
