package de.metaleg.controller.k8s;

import static de.metaleg.controller.k8s.MockCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.metallb.ServiceL2StatusStatus;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.controller.Controller;
import de.metaleg.controller.ControllerConfig;
import de.metaleg.testing.Upserts;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The gateway grace period against the CRUD mock API server, with MetalLB's real failover order:
 * delete the old ServiceL2Status, create a new one that names its node only in the {@code
 * metallb.io/node} label, write {@code status.node} a moment later. A watch records every revision
 * of every EgressPlan, so a Reject generation that was written and overwritten a moment later still
 * shows. Three nodes; Service app/web (198.51.100.10) has pods on node-2 and node-3 and is
 * announced by node-1 (MockCluster conventions).
 */
class GatewayGraceMockTest {
  /** One EgressPlan revision as the watch delivered it. */
  record Revision(long nanos, String node, String resourceVersion, List<String> entries) {}

  MockCluster cluster;
  Controller controller;
  SimpleMeterRegistry registry;
  SharedIndexInformer<EgressPlan> informer;
  final List<Revision> revisions = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    cluster = new MockCluster();
    for (int n = 1; n <= 3; n++) {
      cluster.node(n);
    }
  }

  @AfterEach
  void stop() {
    if (informer != null) {
      informer.close();
    }
    if (controller != null) {
      controller.close();
    }
    cluster.close();
  }

  /** Starts the controller with this grace period and waits until app/web forwards to node-1. */
  void startWithGatewayOnNode1(String grace) {
    ControllerConfig config =
        ControllerConfig.fromEnv(
            Map.of(
                "METRICS_BIND_ADDRESS", "0",
                "HEALTH_PROBE_BIND_ADDRESS", "0",
                "RECONCILIATION_INTERVAL", "1h",
                "GATEWAY_GRACE_PERIOD", grace));
    registry = new SimpleMeterRegistry();
    controller =
        new Controller(
            config,
            cluster.client,
            registry,
            PlanWriter.MAX_PLAN_BYTES,
            () -> {
              throw new AssertionError("lost leadership without leader election");
            });
    controller.start();
    await("controller ready", controller::ready);
    cluster.service("web", "198.51.100.10", "LoadBalancer");
    cluster.slice("web", "10.0.2.5@node-2", "10.0.3.5@node-3");
    cluster.announce("l2-web-a", "web", "node-1");
    await("node-2 forwards to node-1", () -> entries("node-2"), FORWARD_TO_NODE_1::equals);
    await("node-1 is the gateway", () -> entries("node-1"), GATEWAY::equals);
    await("announced", () -> withoutGateway() == 0.0);
  }

  static final List<String> GATEWAY =
      List.of("app/web Gateway/AnnouncedByThisNode src=10.0.2.5,10.0.3.5");
  static final List<String> FORWARD_TO_NODE_1 =
      List.of("app/web Forward/AnnouncedByOtherNode via=192.0.2.1 src=10.0.2.5");
  static final List<String> FORWARD_TO_NODE_3 =
      List.of("app/web Forward/AnnouncedByOtherNode via=192.0.2.3 src=10.0.2.5");
  static final List<String> REJECT = List.of("app/web Reject/NoAnnouncer src=10.0.2.5");

  /**
   * From now on, every revision of every plan is recorded: an informer (synced before this returns,
   * so its watch is running) delivers each watch event, nothing coalesced.
   */
  void recordRevisions() {
    informer =
        cluster.client.resources(EgressPlan.class).inform(Upserts.handler(this::record, p -> {}));
  }

  void record(EgressPlan p) {
    synchronized (revisions) {
      revisions.add(
          new Revision(
              System.nanoTime(),
              p.getMetadata().getName(),
              p.getMetadata().getResourceVersion(),
              p.getSpec().getEntries().stream().map(ControllerMockTest::line).toList()));
    }
  }

  /** Waits until the recorded revisions since {@code before} include {@code node} with these. */
  List<Revision> awaitRevision(Map<String, String> before, String node, List<String> entries) {
    return await(
        node + " revision " + entries,
        () -> revisionsSince(before),
        rs -> rs.stream().anyMatch(r -> r.node().equals(node) && r.entries().equals(entries)));
  }

  /** The recorded revisions that are not in {@code before} (a watch may replay those). */
  List<Revision> revisionsSince(Map<String, String> before) {
    synchronized (revisions) {
      return revisions.stream()
          .filter(r -> !r.resourceVersion().equals(before.get(r.node())))
          .toList();
    }
  }

  List<String> entries(String node) {
    EgressPlan p = cluster.plan(node);
    return p == null
        ? null
        : p.getSpec().getEntries().stream().map(ControllerMockTest::line).toList();
  }

  void deleteAnnouncer() {
    cluster
        .client
        .resources(ServiceL2Status.class)
        .inNamespace("metallb-system")
        .withName("l2-web-a")
        .delete();
  }

  /** What MetalLB creates first: node only in the label, status empty. */
  ServiceL2Status createLabelOnly(String name, String node) {
    ServiceL2Status l2 = new ServiceL2Status();
    l2.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace("metallb-system")
            .withName(name)
            .addToLabels(ServiceL2Status.LABEL_SERVICE_NAME, "web")
            .addToLabels(ServiceL2Status.LABEL_SERVICE_NAMESPACE, "app")
            .addToLabels(ServiceL2Status.LABEL_NODE, node)
            .build());
    return cluster.client.resource(l2).create();
  }

  List<Event> events() {
    return cluster.client.v1().events().inNamespace("app").list().getItems();
  }

  double withoutGateway() {
    return registry.get("metaleg_controller_services_without_gateway").gauge().value();
  }

  double serviceCounter(String name) {
    return registry.get(name).tag("service", "app/web").functionCounter().count();
  }

  @Test
  void aDeleteThenCreateFailoverMovesStraightToTheNewGateway() {
    startWithGatewayOnNode1("2s");
    Map<String, String> before = resourceVersions();
    recordRevisions();
    deleteAnnouncer();
    ServiceL2Status created = createLabelOnly("l2-x7k2p", "node-3");
    await("node-3 is the gateway", () -> entries("node-3"), GATEWAY::equals);
    await("node-2 forwards to node-3", () -> entries("node-2"), FORWARD_TO_NODE_3::equals);
    await("node-1 has nothing left", () -> entries("node-1"), List::isEmpty);
    // MetalLB writes status.node a moment later: the same node, nothing to rewrite.
    ServiceL2StatusStatus st = new ServiceL2StatusStatus();
    st.setNode("node-3");
    created.setStatus(st);
    cluster.client.resource(created).updateStatus();

    // The Normal Event proves the controller processed the move; Events are written in order,
    // so a Warning raised in the gap would already be there.
    await(
        "one Normal Event tells the move",
        this::events,
        es ->
            es.stream()
                .anyMatch(
                    e -> e.getMessage().equals("egress for app/web moved from node-1 to node-3")));
    List<Event> events = events();
    assertEquals(
        1,
        events.stream().filter(e -> e.getMessage().contains("moved from")).count(),
        events.toString());
    assertTrue(
        events.stream()
            .filter(e -> e.getType().equals("Warning"))
            // the setup's Service exists a moment before MetalLB gives it an IP
            .allMatch(e -> e.getReason().equals("NoLoadBalancerIP")),
        "no Warning on a routine failover: " + events);
    assertEquals(1.0, serviceCounter("metaleg_controller_gateway_moves_total"));
    double missing = serviceCounter("metaleg_controller_gateway_missing_seconds_total");
    assertTrue(missing > 0 && missing < 2, "the gap was short: " + missing);
    assertEquals(0.0, withoutGateway());

    awaitRevision(before, "node-1", List.of());
    awaitRevision(before, "node-3", GATEWAY);
    List<Revision> seen = awaitRevision(before, "node-2", FORWARD_TO_NODE_3);
    assertTrue(
        seen.stream().noneMatch(r -> r.entries().stream().anyMatch(e -> e.contains("Reject"))),
        "no plan revision ever rejected: " + seen);
    assertEquals(
        List.of(FORWARD_TO_NODE_3),
        seen.stream().filter(r -> r.node().equals("node-2")).map(Revision::entries).toList(),
        "node-2 went straight from forwarding to node-1 to forwarding to node-3");
  }

  @Test
  void withoutANewAnnouncerThePlansHoldUntilTheGraceEndsThenReject() {
    startWithGatewayOnNode1("1s");
    Map<String, String> before = resourceVersions();
    recordRevisions();
    long deleted = System.nanoTime();
    deleteAnnouncer();
    await("the controller saw the announcer go", () -> withoutGateway() == 1.0);
    long seenGone = System.nanoTime();
    assertTrue(
        seenGone - deleted < 900_000_000L,
        "the delete must be seen well inside the grace for this test to mean anything");
    assertEquals(before, resourceVersions(), "inside the grace no plan is rewritten");

    List<Revision> seen = awaitRevision(before, "node-2", REJECT);
    Revision first = seen.get(0);
    long afterMillis = (first.nanos() - deleted) / 1_000_000;
    assertTrue(afterMillis >= 1000, "not before the grace ran out: " + afterMillis + " ms");
    assertTrue(afterMillis < 4000, "about when the grace ran out: " + afterMillis + " ms");
    assertTrue(
        seen.stream()
            .allMatch(r -> r.entries().stream().allMatch(e -> e.contains("Reject/NoAnnouncer"))),
        "the first rewrite after the delete is the Reject: " + seen);
    await(
        "Warning once the grace is over",
        this::events,
        es ->
            es.stream()
                .anyMatch(
                    e ->
                        e.getType().equals("Warning")
                            && e.getReason().equals("NoEgressGateway")
                            && e.getMessage().contains("for 1s (GATEWAY_GRACE_PERIOD)")));
    assertTrue(serviceCounter("metaleg_controller_gateway_missing_seconds_total") >= 1.0);
    assertEquals(0.0, serviceCounter("metaleg_controller_gateway_moves_total"));
  }

  @Test
  void withGraceZeroAMissingAnnouncerRejectsAtOnce() {
    startWithGatewayOnNode1("0");
    Map<String, String> before = resourceVersions();
    recordRevisions();
    long deleted = System.nanoTime();
    deleteAnnouncer();
    Revision first = awaitRevision(before, "node-2", REJECT).get(0);
    long afterMillis = (first.nanos() - deleted) / 1_000_000;
    assertTrue(afterMillis < 1500, "at once, not after the default grace: " + afterMillis + " ms");
    await(
        "Warning at once",
        this::events,
        es -> es.stream().anyMatch(e -> e.getReason().equals("NoEgressGateway")));
  }

  Map<String, String> resourceVersions() {
    Map<String, String> out = new java.util.TreeMap<>();
    cluster
        .client
        .resources(EgressPlan.class)
        .list()
        .getItems()
        .forEach(p -> out.put(p.getMetadata().getName(), p.getMetadata().getResourceVersion()));
    return out;
  }
}
