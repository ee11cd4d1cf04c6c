package de.metaleg.agent.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.AgentMain;
import de.metaleg.agent.KubeStatusSink;
import de.metaleg.agent.kernel.RecordingDataplane;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
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
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The agent loop against fabric8's mock API server (CRUD mode, EgressPlan CRD from config/crd) with
 * the hand-written fake dataplane that records every sync ({@link RecordingDataplane}). Node IPs
 * 192.0.2.x, pods 10.244.1.x, LB IPs 198.51.100.x.
 */
class AgentLoopMockTest {
  private KubernetesMockServer server;
  private KubernetesClient client;
  private RecordingDataplane dataplane;
  private AgentMetrics metrics;
  private AgentLoop loop;
  private SharedIndexInformer<EgressPlan> informer;

  @BeforeEach
  void setUp() throws Exception {
    server = CrudApiServer.start();
    client = server.createClient();
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    dataplane =
        new RecordingDataplane(new NodeFacts(config.markSpace(), config.excludeDestinations()));
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
    return s.condition(type).orElseThrow();
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

  private void createPlan(EgressEntry... entries) {
    client
        .resources(EgressPlan.class)
        .resource(EgressPlan.forNode("node-a", new EgressPlanSpec("node-a", List.of(entries))))
        .create();
  }

  private void editPlan(java.util.function.Consumer<List<EgressEntry>> edit) {
    var plans = client.resources(EgressPlan.class);
    EgressPlan plan = plans.withName("node-a").get();
    edit.accept(plan.getSpec().getEntries());
    plans.resource(plan).update();
  }

  private EgressPlanStatus awaitReady() throws InterruptedException {
    await(
        "Ready status",
        () -> status("node-a") != null && status("node-a").getObservedGeneration() != null);
    return status("node-a");
  }

  /** Triggers a sync and waits until the loop has finished a pass that covers it. */
  private void triggerAndAwaitPass(boolean full) throws InterruptedException {
    long trigger = loop.trigger(full);
    await("pass for trigger " + trigger, () -> loop.handledTrigger() >= trigger);
  }

  private static Entry entry(DesiredPlan plan, String service) {
    return plan.entries().stream()
        .filter(e -> e.service().equals(service))
        .findFirst()
        .orElseThrow(() -> new AssertionError(service + " not programmed: " + plan));
  }

  private static Entry reject(String service, String source) {
    return new Entry(
        service,
        Family.V4,
        Role.Reject,
        "RecoveredFromKernel",
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        List.of(source));
  }

  @Test
  void programsItsOwnPlanFullyFirstAndReportsReady() throws Exception {
    client
        .resources(EgressPlan.class)
        .resource(
            EgressPlan.forNode(
                "node-b",
                new EgressPlanSpec("node-b", List.of(forward("other/svc", "10.244.9.9")))))
        .create();
    createPlan(forward("shop/web", "10.244.1.5"), forward("shop/api", "10.244.1.6"));

    EgressPlanStatus s = awaitReady();
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
    assertEquals(List.of("10.244.1.5"), entry(dataplane.synced.get(0), "shop/web").sources());
    assertNull(status("node-b"), "another node's plan is neither programmed nor written");
    assertTrue(
        dataplane.synced.stream()
            .flatMap(p -> p.entries().stream())
            .noneMatch(e -> e.service().equals("other/svc")));
  }

  @Test
  void resyncsWithNothingChangedWriteNoStatus() throws Exception {
    createPlan(forward("shop/web", "10.244.1.5"));
    awaitReady();
    await("the first status write counted", () -> metrics.statusWrites() == 1);
    int syncs = dataplane.synced.size();
    for (int i = 0; i < 19; i++) {
      loop.trigger(true);
    }
    triggerAndAwaitPass(true);
    assertTrue(dataplane.synced.size() > syncs, "the resyncs ran");
    assertEquals(
        1.0, metrics.statusWrites(), "periodic resyncs must not rewrite an unchanged status");
  }

  @Test
  void aBadEntryIsDegradedWhileItsLastGoodStateStaysProgrammed() throws Exception {
    createPlan(forward("shop/web", "10.244.1.5"), forward("shop/api", "10.244.1.6"));
    String readySince = condition(awaitReady(), "Ready").getLastTransitionTime();

    editPlan(
        entries -> {
          entries.get(1).setSourceIPv4s(List.of("10.244.1.6", "not-an-ip"));
          entries.get(0).setSourceIPv4s(List.of("10.244.1.5", "10.244.1.7"));
        });
    await("Degraded", () -> "True".equals(condition(status("node-a"), "Degraded").getStatus()));
    EgressPlanStatus s = status("node-a");
    String message = condition(s, "Degraded").getMessage();
    assertTrue(message.contains("shop/api") && message.contains("not-an-ip"), message);
    assertEquals(readySince, condition(s, "Ready").getLastTransitionTime(), "Ready did not change");
    assertEquals(2, s.getConditions().size());
    assertEquals(1, s.getGateways().size());
    DesiredPlan last = dataplane.last();
    assertEquals(List.of("10.244.1.6"), entry(last, "shop/api").sources(), "last good kept");
    assertEquals(
        List.of("10.244.1.5", "10.244.1.7"),
        entry(last, "shop/web").sources(),
        "good entries still move on");
  }

  @Test
  void anUnknownRoleDegradesOnlyThatEntry() throws Exception {
    createPlan(forward("shop/web", "10.244.1.5"), forward("shop/api", "10.244.1.6"));
    awaitReady();

    editPlan(
        entries -> {
          entries.get(1).setRole("Teleport");
          entries.get(0).setSourceIPv4s(List.of("10.244.1.7"));
        });
    await(
        "unknown role reported",
        () -> condition(status("node-a"), "Degraded").getMessage().contains("Teleport"));
    String message = condition(status("node-a"), "Degraded").getMessage();
    assertTrue(message.contains("shop/api") && !message.contains("shop/web"), message);
    DesiredPlan last = dataplane.last();
    assertEquals(List.of("10.244.1.7"), entry(last, "shop/web").sources());
    assertEquals(Role.Forward, entry(last, "shop/api").role(), "last good kept");
  }

  @Test
  void canaryDriftTriggersAFullResync() throws Exception {
    createPlan(forward("shop/web", "10.244.1.5"));
    awaitReady();
    int before = dataplane.synced.size();

    dataplane.drift = Optional.of("chain METALEG-MARK missing");
    await("canary resync", () -> dataplane.synced.size() > before);
    assertTrue(dataplane.fullFlags.get(before), "the resync after drift is full");
    assertTrue(
        metrics.scrape().contains("metaleg_agent_canary_resyncs_total 1.0"), metrics.scrape());
  }

  @Test
  void withoutAPlanNothingIsSyncedAndTheKernelKeepsItsState() throws Exception {
    createPlan(forward("shop/web", "10.244.1.5"));
    awaitReady();
    assertTrue(metrics.scrape().contains("metaleg_agent_plan_present 1.0"));
    int syncs = dataplane.synced.size();

    client.resources(EgressPlan.class).withName("node-a").delete();
    await("the deletion seen", () -> metrics.scrape().contains("metaleg_agent_plan_present 0.0"));
    triggerAndAwaitPass(true);
    assertEquals(syncs, dataplane.synced.size(), "no sync without a plan");
  }

  @Test
  void syncsAreMeasured() throws Exception {
    createPlan(forward("shop/web", "10.244.1.5"), forward("shop/api", "10.244.1.6"));
    awaitReady();
    editPlan(entries -> entries.get(0).setSourceIPv4s(List.of("10.244.1.7")));
    await("an incremental sync", () -> dataplane.fullFlags.contains(false));
    await(
        "its duration recorded",
        () ->
            metrics
                .scrape()
                .contains("metaleg_agent_sync_duration_seconds_count{kind=\"incremental\"} 1"));
    String scrape = metrics.scrape();
    for (String name :
        List.of(
            "metaleg_agent_sync_duration_seconds_bucket{kind=\"full\"",
            "metaleg_agent_sync_duration_seconds_count{kind=\"full\"} 1",
            "metaleg_agent_sync_failures_total 0.0",
            "metaleg_agent_entries{role=\"Forward\"} 2.0",
            "metaleg_agent_rules{role=\"Forward\"}",
            "metaleg_agent_last_success_timestamp_seconds",
            "metaleg_agent_status_writes_total")) {
      assertTrue(scrape.contains(name), name + " in\n" + scrape);
    }
  }

  @Test
  void afterARestartAnInvalidEntryIsRecoveredFromTheKernel() throws Exception {
    // what the previous agent process programmed: shop/bad rejected, shop/web for another pod
    dataplane.previouslyProgrammed.put("shop/bad", List.of(reject("shop/bad", "10.244.1.66")));
    dataplane.previouslyProgrammed.put("shop/web", List.of(reject("shop/web", "10.244.1.99")));
    EgressEntry bad = forward("shop/bad", "10.244.1.66");
    bad.setGatewayIPv4("192.0.2.300");
    createPlan(forward("shop/web", "10.244.1.5"), bad);

    EgressPlanStatus s = awaitReady();
    assertEquals("True", condition(s, "Degraded").getStatus());
    assertTrue(condition(s, "Degraded").getMessage().contains("192.0.2.300"));
    assertEquals(
        List.of(Set.of("shop/bad")),
        dataplane.recoverRequests,
        "the kernel is asked only about the invalid entry");
    DesiredPlan first = dataplane.synced.get(0);
    assertEquals(reject("shop/bad", "10.244.1.66"), entry(first, "shop/bad"), "kept as it was");
    assertEquals(Role.Forward, entry(first, "shop/web").role(), "valid entries follow the plan");
    assertEquals(1, s.getRejectEntries());
    assertEquals(1, s.getForwardEntries());
  }

  @Test
  void aRecoveredEntryIsCarriedWithoutAskingTheKernelAgain() throws Exception {
    dataplane.previouslyProgrammed.put("shop/bad", List.of(reject("shop/bad", "10.244.1.66")));
    EgressEntry bad = forward("shop/bad", "10.244.1.66");
    bad.setGatewayIPv4("192.0.2.300");
    createPlan(forward("shop/web", "10.244.1.5"), bad);
    awaitReady();
    dataplane.previouslyProgrammed.clear(); // the loop must carry it, not re-read it

    triggerAndAwaitPass(true);
    assertEquals(2, dataplane.synced.size());
    assertEquals(1, dataplane.recoverRequests.size(), "the kernel is asked once");
    assertEquals(reject("shop/bad", "10.244.1.66"), entry(dataplane.last(), "shop/bad"));
  }

  @Test
  void anInvalidEntryTheKernelDoesNotHaveIsNotProgrammed() throws Exception {
    EgressEntry bad = forward("shop/bad", "10.244.1.66");
    bad.setGatewayIPv4("192.0.2.300");
    createPlan(forward("shop/web", "10.244.1.5"), bad);

    EgressPlanStatus s = awaitReady();
    assertEquals(List.of(Set.of("shop/bad")), dataplane.recoverRequests);
    assertTrue(
        dataplane.synced.get(0).entries().stream().noneMatch(e -> e.service().equals("shop/bad")));
    assertEquals(0, s.getRejectEntries());

    triggerAndAwaitPass(true);
    assertEquals(2, dataplane.synced.size());
    assertEquals(1, dataplane.recoverRequests.size(), "a resync does not ask the kernel again");
  }

  private static void assertNull(Object o, String message) {
    assertTrue(o == null, message);
  }
}
