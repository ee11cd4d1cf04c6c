package de.metaleg.controller.k8s;

import static de.metaleg.controller.k8s.MockCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.controller.Controller;
import de.metaleg.controller.ControllerConfig;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The controller against fabric8's CRUD mock API server: the production wiring (JOSDK, informers,
 * plan writes by create and update with the cached resourceVersion) end to end. Three nodes;
 * Service app/web (LB IP 198.51.100.10) has pods on node-2 and node-3; MetalLB announces it from
 * node-1.
 */
class ControllerMockTest {
  MockCluster cluster;
  Controller controller;
  SimpleMeterRegistry registry;

  @BeforeEach
  void start() throws Exception {
    cluster = new MockCluster();
    for (int n = 1; n <= 3; n++) {
      cluster.node(n);
    }
  }

  void startController(int maxPlanBytes) {
    startController(maxPlanBytes, "2s");
  }

  void startController(int maxPlanBytes, String gatewayGracePeriod) {
    ControllerConfig config =
        ControllerConfig.fromEnv(
            Map.of(
                "METRICS_BIND_ADDRESS", "0",
                "HEALTH_PROBE_BIND_ADDRESS", "0",
                "RECONCILIATION_INTERVAL", "1h",
                "GATEWAY_GRACE_PERIOD", gatewayGracePeriod));
    registry = new SimpleMeterRegistry();
    controller =
        new Controller(
            config,
            cluster.client,
            registry,
            maxPlanBytes,
            () -> {
              throw new AssertionError("lost leadership without leader election");
            });
    controller.start();
    await("controller ready", controller::ready);
  }

  @AfterEach
  void stop() {
    if (controller != null) {
      controller.close();
    }
    cluster.close();
  }

  /** One line per entry of a node's plan: {@code service role/reason via=... src=...}. */
  List<String> entries(String node) {
    EgressPlan p = cluster.plan(node);
    if (p == null) {
      return null;
    }
    return p.getSpec().getEntries().stream().map(ControllerMockTest::line).toList();
  }

  static String line(EgressEntry e) {
    return e.getService()
        + " "
        + e.getRole()
        + "/"
        + e.getReason()
        + (e.getGatewayIPv4() == null ? "" : " via=" + e.getGatewayIPv4())
        + " src="
        + String.join(",", e.getSourceIPv4s());
  }

  Map<String, String> resourceVersions() {
    return cluster.client.resources(EgressPlan.class).list().getItems().stream()
        .collect(
            Collectors.toMap(
                p -> p.getMetadata().getName(),
                p -> p.getMetadata().getResourceVersion(),
                (a, b) -> a,
                TreeMap::new));
  }

  List<String> events(String namespace) {
    return cluster.client.v1().events().inNamespace(namespace).list().getItems().stream()
        .map(Event::getReason)
        .sorted()
        .toList();
  }

  List<String> eventMessages(String namespace) {
    return cluster.client.v1().events().inNamespace(namespace).list().getItems().stream()
        .map(Event::getMessage)
        .toList();
  }

  void webWithGatewayOnNode1() {
    cluster.service("web", "198.51.100.10", "LoadBalancer");
    cluster.slice("web", "10.0.2.5@node-2", "10.0.3.5@node-3");
    cluster.announce("l2-web-a", "web", "node-1");
    await(
        "plans for app/web",
        () -> entries("node-3"),
        e -> e != null && e.size() == 1 && e.get(0).contains("Forward"));
  }

  @Test
  void plansAppearPerNodeAndFollowAMetalLBFailover() {
    // Grace 0: the gap between delete and create rejects (GatewayGraceMockTest covers the grace).
    startController(PlanWriter.MAX_PLAN_BYTES, "0");
    await("an empty plan per node", () -> resourceVersions().size() == 3);
    assertTrue(controller.healthy(), "all informers running");
    webWithGatewayOnNode1();
    assertEquals(
        List.of("app/web Gateway/AnnouncedByThisNode src=10.0.2.5,10.0.3.5"), entries("node-1"));
    assertEquals(
        List.of("app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.2.5"),
        entries("node-2"));
    EgressPlan p = cluster.plan("node-2");
    assertEquals("node-2", p.getMetadata().getLabels().get(EgressPlan.NODE_LABEL));
    assertEquals(
        cluster.client.nodes().withName("node-2").get().getMetadata().getUid(),
        p.getMetadata().getOwnerReferences().get(0).getUid());
    assertEquals("Node", p.getMetadata().getOwnerReferences().get(0).getKind());

    // MetalLB failover: the old object goes, a new one names node-3.
    cluster
        .client
        .resources(de.metaleg.api.metallb.ServiceL2Status.class)
        .inNamespace("metallb-system")
        .withName("l2-web-a")
        .delete();
    await(
        "reject without announcer",
        () -> entries("node-2"),
        e -> e.equals(List.of("app/web Reject/NoAnnouncer src=10.0.2.5")));
    cluster.announce("l2-web-b", "web", "node-3");
    await(
        "gateway moved to node-3",
        () -> entries("node-3"),
        e -> e.equals(List.of("app/web Gateway/AnnouncedByThisNode src=10.0.2.5,10.0.3.5")));
    await(
        "node-2 forwards to node-3",
        () -> entries("node-2"),
        e -> e.equals(List.of("app/web Forward/AnnouncedByOtherNode via=192.0.2.3 src=10.0.2.5")));
    await("node-1 has nothing left", () -> entries("node-1"), List::isEmpty);
    await(
        "Events tell the story",
        () -> eventMessages("app"),
        m ->
            m.contains("egress for app/web now leaves via node-1")
                && m.contains("egress for app/web moved from node-1 to node-3")
                && m.stream().anyMatch(s -> s.startsWith("no node announces 198.51.100.10")));
  }

  @Test
  void aLegacyServiceL2StatusInTheServicesNamespaceNamesTheGateway() {
    startController(PlanWriter.MAX_PLAN_BYTES);
    cluster.service("web", "198.51.100.10", "LoadBalancer");
    cluster.slice("web", "10.0.2.5@node-2");
    ServiceL2Status legacy = new ServiceL2Status(); // MetalLB 0.14.4-0.14.5, status not yet set
    legacy.setMetadata(
        new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
            .withNamespace("app")
            .withName("l2-legacy")
            .addToLabels(ServiceL2Status.LEGACY_LABEL_SERVICE, "web")
            .addToLabels(ServiceL2Status.LABEL_NODE, "node-3")
            .build());
    cluster.client.resource(legacy).create();
    await(
        "node-2 forwards to node-3",
        () -> entries("node-2"),
        e ->
            e != null
                && e.equals(
                    List.of("app/web Forward/AnnouncedByOtherNode via=192.0.2.3 src=10.0.2.5")));
  }

  /**
   * Nothing is rewritten by a resync or by input changes that change no plan. Each no-op is
   * followed by a marker change through the same informer that must rewrite every plan once: its
   * writes land only after the controller handled the no-op (one informer delivers in order, one
   * lock takes them, and JOSDK reconciles a node serially), so exactly one write per node proves
   * the no-op wrote nothing.
   */
  @Test
  void nothingIsRewrittenWhenNothingChanged() {
    startController(PlanWriter.MAX_PLAN_BYTES);
    webWithGatewayOnNode1();
    awaitSettled(
        "app/web Gateway/AnnouncedByThisNode src=10.0.2.5,10.0.3.5",
        "app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.2.5",
        "app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.3.5");
    double writes = writes();
    assertTrue(writes >= 6, "3 creates, then at least one update per node: " + writes);

    // EndpointSlice informer: a full resync, the same endpoints again, then the marker
    controller.resync();
    cluster.slice("web", "10.0.2.5@node-2", "10.0.3.5@node-3");
    cluster.slice("web", "10.0.2.6@node-2", "10.0.3.6@node-3");
    awaitSettled(
        "app/web Gateway/AnnouncedByThisNode src=10.0.2.6,10.0.3.6",
        "app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.2.6",
        "app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.3.6");
    writes = assertWrites(writes + 3, "one write per node: the marker's");

    // Service informer: an annotation no plan carries, then the marker (the label goes)
    Service web = cluster.client.services().inNamespace("app").withName("web").get();
    web.getMetadata().setAnnotations(Map.of("unrelated", "change"));
    web = cluster.client.resource(web).update();
    web.getMetadata().getLabels().remove(EgressPlan.SERVICE_OPT_IN_LABEL);
    cluster.client.resource(web).update();
    for (String n : List.of("node-1", "node-2", "node-3")) {
      await(n + " is empty", () -> entries(n), List::isEmpty);
    }
    assertWrites(writes + 3, "one write per node: the marker's");
  }

  /** Waits until node-1..3 carry one entry each, as given. */
  void awaitSettled(String node1, String node2, String node3) {
    await("node-1", () -> entries("node-1"), List.of(node1)::equals);
    await("node-2", () -> entries("node-2"), List.of(node2)::equals);
    await("node-3", () -> entries("node-3"), List.of(node3)::equals);
  }

  /**
   * The plan-write counter reached {@code expected} and not more. The counter is bumped right after
   * a write returns, so a short wait covers the writes just seen in the API.
   */
  double assertWrites(double expected, String what) {
    double now = await(what, this::writes, w -> w >= expected);
    assertEquals(expected, now, what);
    return now;
  }

  double writes() {
    return registry.find("metaleg_controller_plans_written_total").counters().stream()
        .mapToDouble(c -> c.count())
        .sum();
  }

  /**
   * An endpoint change rewrites the nodes it touches and not node-4. The marker that follows (a pod
   * on node-4, through the same EndpointSlice informer) must be node-4's only write since the
   * change; exact counts of writes prove it.
   */
  @Test
  void anEndpointChangeRewritesOnlyTheNodesItAffects() {
    cluster.node(4);
    startController(PlanWriter.MAX_PLAN_BYTES);
    webWithGatewayOnNode1();
    awaitSettled(
        "app/web Gateway/AnnouncedByThisNode src=10.0.2.5,10.0.3.5",
        "app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.2.5",
        "app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.3.5");
    await("node-4's empty plan", () -> entries("node-4"), List::isEmpty);
    Map<String, String> before = resourceVersions();
    double writes = writes();
    cluster.slice("web", "10.0.2.5@node-2", "10.0.2.6@node-2"); // the node-3 pod moved to node-2
    await("node-3 lost its pod", () -> entries("node-3"), List::isEmpty);
    await(
        "node-2 has both",
        () -> entries("node-2"),
        e ->
            e.equals(
                List.of(
                    "app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.2.5,10.0.2.6")));
    await(
        "node-1 gateways both",
        () -> entries("node-1"),
        List.of("app/web Gateway/AnnouncedByThisNode src=10.0.2.5,10.0.2.6")::equals);
    Map<String, String> after = resourceVersions();
    for (String n : List.of("node-1", "node-2", "node-3")) {
      assertTrue(!before.get(n).equals(after.get(n)), n + " was rewritten");
    }
    writes = assertWrites(writes + 3, "node-1, node-2 and node-3 once each");

    cluster.slice("web", "10.0.2.5@node-2", "10.0.2.6@node-2", "10.0.4.5@node-4"); // the marker
    await(
        "node-4 forwards",
        () -> entries("node-4"),
        List.of("app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.4.5")::equals);
    await(
        "node-1 gateways node-4's pod",
        () -> entries("node-1"),
        List.of("app/web Gateway/AnnouncedByThisNode src=10.0.2.5,10.0.2.6,10.0.4.5")::equals);
    assertWrites(writes + 2, "node-4 once (the marker, not the move before it), node-1 once");
  }

  @Test
  void aHandEditedSpecIsPutBack() {
    startController(PlanWriter.MAX_PLAN_BYTES);
    webWithGatewayOnNode1();
    cluster
        .client
        .resources(EgressPlan.class)
        .withName("node-2")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"entries\":[]}}");
    await(
        "node-2's entry is back",
        () -> entries("node-2"),
        e -> e.equals(List.of("app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.2.5")));
  }

  @Test
  void aDeletedPlanIsRecreatedAndAPlanWithoutNodeIsRemoved() {
    startController(PlanWriter.MAX_PLAN_BYTES);
    webWithGatewayOnNode1();
    cluster.client.resources(EgressPlan.class).withName("node-2").delete();
    await(
        "node-2's plan is back",
        () -> entries("node-2"),
        e ->
            e != null
                && e.equals(
                    List.of("app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.2.5")));
    cluster
        .client
        .resource(EgressPlan.forNode("node-9", new de.metaleg.api.v1alpha1.EgressPlanSpec()))
        .create();
    await("the stray plan is deleted", () -> cluster.plan("node-9") == null);
  }

  @Test
  void plansShrinkWhenTheLabelIsRemovedAndDisappearWithTheirNode() {
    startController(PlanWriter.MAX_PLAN_BYTES);
    webWithGatewayOnNode1();
    Service web = cluster.client.services().inNamespace("app").withName("web").get();
    web.getMetadata().getLabels().remove(EgressPlan.SERVICE_OPT_IN_LABEL);
    cluster.client.resource(web).update();
    for (String n : List.of("node-1", "node-2", "node-3")) {
      await(n + " is empty", () -> entries(n), List::isEmpty);
    }
    cluster.client.nodes().withName("node-3").delete();
    await("node-3's plan is gone", () -> cluster.plan("node-3") == null);
    assertNotNull(cluster.plan("node-1"));
    assertNull(cluster.plan("node-3"));
  }

  @Test
  void aDeletedNodesPlanIsDeleted() {
    startController(PlanWriter.MAX_PLAN_BYTES);
    webWithGatewayOnNode1();
    assertEquals(2.0, forwardEntries(), "node-2 and node-3");
    cluster.client.nodes().withName("node-3").delete(); // a plan with an entry; no GC in the mock
    await("node-3's plan is gone", () -> cluster.plan("node-3") == null);
    await(
        "one delete counted",
        () ->
            registry
                .find("metaleg_controller_plans_written_total")
                .tag("operation", "delete")
                .counters()
                .stream()
                .mapToDouble(c -> c.count())
                .sum(),
        d -> d == 1.0);
    await("node-3's entries are no longer counted", this::forwardEntries, f -> f == 1.0);
    assertEquals(
        List.of("app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.2.5"),
        entries("node-2"));
  }

  double forwardEntries() {
    return registry.get("metaleg_controller_plan_entries").tag("role", "Forward").gauge().value();
  }

  @Test
  void unusableServicesGetAWarningAndDoNotDisturbOthers() {
    startController(PlanWriter.MAX_PLAN_BYTES);
    cluster.service("internal", "198.51.100.20", "ClusterIP");
    cluster.slice("internal", "10.0.2.9@node-2");
    cluster.service("broken", "198.51.100.999", "LoadBalancer");
    cluster.slice("broken", "10.0.2.8@node-2");
    webWithGatewayOnNode1();
    await(
        "Warnings on both",
        () -> events("app"),
        r -> r.contains("NotLoadBalancer") && r.contains("InvalidLoadBalancerIP"));
    assertEquals(
        List.of("app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.2.5"),
        entries("node-2"));
    Event warning =
        cluster.client.v1().events().inNamespace("app").list().getItems().stream()
            .filter(e -> e.getReason().equals("NotLoadBalancer"))
            .findFirst()
            .orElseThrow();
    assertEquals("Warning", warning.getType());
    assertEquals("internal", warning.getInvolvedObject().getName());
    assertEquals("Service", warning.getInvolvedObject().getKind());
  }

  @Test
  void anOversizedPlanIsReportedByMetricAndEvent() {
    startController(100); // bytes: the plans with an entry are larger
    webWithGatewayOnNode1();
    await("Warning Event", () -> events("default"), r -> r.contains(PlanWriter.PLAN_TOO_LARGE));
    await(
        "metric",
        () -> registry.get("metaleg_controller_oversized_plans").gauge().value(),
        v -> v == 3.0);
  }
}
