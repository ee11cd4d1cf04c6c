package de.metaleg.controller.k8s;

import static de.metaleg.controller.k8s.MockCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.SnatPorts;
import de.metaleg.controller.Controller;
import de.metaleg.controller.ControllerConfig;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A controller restart continues each Service's half of the port space ({@code snatPorts}) from the
 * EgressPlans it finds, against the CRUD mock API server: one controller runs, stops, the cluster
 * changes while none runs, a second one (own client, own memory: a new process) starts. Three
 * nodes; Service app/web (198.51.100.10) has pods on node-2 and node-3 (MockCluster conventions).
 */
class SnatPortsRestartMockTest {
  static final String GW = "app/web Gateway/AnnouncedByThisNode ports=";

  MockCluster cluster;
  KubernetesClient client;
  Controller controller;

  @BeforeEach
  void start() throws Exception {
    cluster = new MockCluster();
    for (int n = 1; n <= 3; n++) {
      cluster.node(n);
    }
  }

  @AfterEach
  void stop() {
    stopController();
    cluster.close();
  }

  /** A controller process of its own: new client, new planning state. */
  void startController() {
    ControllerConfig config =
        ControllerConfig.fromEnv(
            Map.of(
                "METRICS_BIND_ADDRESS", "0",
                "HEALTH_PROBE_BIND_ADDRESS", "0",
                "RECONCILIATION_INTERVAL", "1h",
                "GATEWAY_GRACE_PERIOD", "2s"));
    client = cluster.server.createClient();
    controller =
        new Controller(
            config,
            client,
            new SimpleMeterRegistry(),
            PlanWriter.MAX_PLAN_BYTES,
            () -> {
              throw new AssertionError("lost leadership without leader election");
            });
    controller.start();
    await("controller ready", controller::ready);
  }

  void stopController() {
    if (controller != null) {
      controller.close();
      client.close();
      controller = null;
    }
  }

  List<String> entries(String node) {
    EgressPlan p = cluster.plan(node);
    return p == null
        ? null
        : p.getSpec().getEntries().stream().map(ControllerMockTest::line).toList();
  }

  void moveAnnouncer(String from, String to, String node) {
    cluster
        .client
        .resources(ServiceL2Status.class)
        .inNamespace("metallb-system")
        .withName(from)
        .delete();
    cluster.announce(to, "web", node);
  }

  /** Run 1: app/web on node-1 (upper half), then MetalLB moves it to node-3 (lower half). */
  void firstRunEndsOnNode3WithTheLowerHalf() {
    startController();
    cluster.service("web", "198.51.100.10", "LoadBalancer");
    cluster.slice("web", "10.0.2.5@node-2", "10.0.3.5@node-3");
    cluster.announce("l2-web-a", "web", "node-1");
    await(
        "node-1 is the gateway on the upper half",
        () -> entries("node-1"),
        List.of(GW + SnatPorts.UPPER + " src=10.0.2.5,10.0.3.5")::equals);
    moveAnnouncer("l2-web-a", "l2-web-b", "node-3");
    await(
        "node-3 is the gateway on the lower half",
        () -> entries("node-3"),
        List.of(GW + SnatPorts.LOWER + " src=10.0.2.5,10.0.3.5")::equals);
    stopController();
  }

  @Test
  void aRestartKeepsTheLowerHalfOfTheSameGateway() {
    firstRunEndsOnNode3WithTheLowerHalf();
    // While no controller runs a pod joins, so the restarted one must rewrite node-3's plan:
    // that write shows the half it chose.
    cluster.slice("web", "10.0.2.5@node-2", "10.0.3.5@node-3", "10.0.3.6@node-3");
    startController();
    List<String> written =
        await(
            "the restarted controller rewrote node-3's plan",
            () -> entries("node-3"),
            e -> e != null && e.size() == 1 && e.get(0).contains("10.0.3.6"));
    assertEquals(
        List.of(GW + SnatPorts.LOWER + " src=10.0.2.5,10.0.3.5,10.0.3.6"),
        written,
        "node-3 keeps the half its connections already use");
  }

  @Test
  void aGatewayThatMovedWhileTheControllerWasDownGetsTheOtherHalf() {
    firstRunEndsOnNode3WithTheLowerHalf();
    moveAnnouncer("l2-web-b", "l2-web-c", "node-2");
    startController();
    List<String> written =
        await(
            "node-2 became the gateway",
            () -> entries("node-2"),
            e -> e != null && e.size() == 1 && e.get(0).contains("Gateway"));
    assertEquals(
        List.of(GW + SnatPorts.UPPER + " src=10.0.2.5,10.0.3.5"),
        written,
        "the other half than node-3's, whose connections may still be open");
  }

  @Test
  void aGatewayThatMovedAwayFromTheUpperHalfWhileTheControllerWasDownGetsTheLowerOne() {
    startController();
    cluster.service("web", "198.51.100.10", "LoadBalancer");
    cluster.slice("web", "10.0.2.5@node-2", "10.0.3.5@node-3");
    cluster.announce("l2-web-a", "web", "node-1");
    await(
        "node-1 is the gateway on the upper half",
        () -> entries("node-1"),
        List.of(GW + SnatPorts.UPPER + " src=10.0.2.5,10.0.3.5")::equals);
    stopController();
    moveAnnouncer("l2-web-a", "l2-web-b", "node-3");
    startController();
    List<String> written =
        await(
            "node-3 became the gateway",
            () -> entries("node-3"),
            e -> e != null && e.size() == 1 && e.get(0).contains("Gateway"));
    assertEquals(List.of(GW + SnatPorts.LOWER + " src=10.0.2.5,10.0.3.5"), written);
  }
}
