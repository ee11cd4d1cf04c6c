package de.metaleg.controller.k8s;

import static de.metaleg.controller.k8s.MockCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.controller.Controller;
import de.metaleg.controller.ControllerConfig;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The controller's half of the network-programming SLI against the CRUD mock API server: an
 * EndpointSlice's {@code endpoints.kubernetes.io/last-change-trigger-time} reaches the annotation
 * {@code metaleg.de/last-change-trigger-time} of exactly the plans the change rewrote, and {@code
 * metaleg_controller_programming_duration_seconds} records trigger → plan written. Nodes, LB IP and
 * pods as in ControllerMockTest: app/web (198.51.100.10) announced from node-1, pods on node-2 and
 * node-3.
 */
class TriggerTimeMockTest {
  MockCluster cluster;
  Controller controller;
  SimpleMeterRegistry registry;
  Instant controllerStarted;

  @BeforeEach
  void start() throws Exception {
    cluster = new MockCluster();
    for (int n = 1; n <= 3; n++) {
      cluster.node(n);
    }
    registry = new SimpleMeterRegistry();
    controllerStarted = Instant.now();
    controller =
        new Controller(
            ControllerConfig.fromEnv(
                Map.of(
                    "METRICS_BIND_ADDRESS", "0",
                    "HEALTH_PROBE_BIND_ADDRESS", "0",
                    "RECONCILIATION_INTERVAL", "1h")),
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
    await(
        "plans for app/web settled",
        () -> role("node-1").equals("Gateway") && role("node-2").equals("Forward"));
    await("node-3 forwards app/web", () -> role("node-3").equals("Forward"));
  }

  String role(String node) {
    EgressPlan p = cluster.plan(node);
    return p == null || p.getSpec().getEntries().isEmpty()
        ? ""
        : p.getSpec().getEntries().get(0).getRole();
  }

  @AfterEach
  void stop() {
    controller.close();
    cluster.close();
  }

  List<String> sources(String node) {
    EgressPlan p = cluster.plan(node);
    return p == null || p.getSpec().getEntries().isEmpty()
        ? List.of()
        : p.getSpec().getEntries().get(0).getSourceIPv4s();
  }

  Instant annotation(String node) {
    Map<String, String> a = cluster.plan(node).getMetadata().getAnnotations();
    String v = a == null ? null : a.get(EgressPlan.LAST_CHANGE_TRIGGER_TIME);
    return v == null ? null : Instant.parse(v);
  }

  String resourceVersion(String node) {
    return cluster.plan(node).getMetadata().getResourceVersion();
  }

  Timer programming() {
    return registry.get("metaleg_controller_programming_duration_seconds").timer();
  }

  /** The slice app/web-1 as the EndpointSlice controller writes it: with its trigger time. */
  void slice(Instant triggeredAt, String... ipAtNode) {
    EndpointSliceBuilder b =
        new EndpointSliceBuilder(
                cluster
                    .client
                    .discovery()
                    .v1()
                    .endpointSlices()
                    .inNamespace("app")
                    .withName("web-1")
                    .get())
            .editMetadata()
            .addToAnnotations(TriggerTimes.SLICE_TRIGGER_TIME, triggeredAt.toString())
            .endMetadata()
            .withEndpoints();
    for (String s : ipAtNode) {
      String[] p = s.split("@");
      b.addNewEndpoint().withAddresses(p[0]).withNodeName(p[1]).endEndpoint();
    }
    EndpointSlice slice = b.build();
    cluster.client.resource(slice).update();
  }

  @Test
  void theSlicesTriggerTimeReachesExactlyTheRewrittenPlans() throws InterruptedException {
    String node2Version = resourceVersion("node-2");
    long before = programming().count();
    // the pod change happened 300 ms before the slice reached the API server, and after the
    // controller started (a set-up faster than 300 ms would put it before: wait that out)
    long sinceStart = Duration.between(controllerStarted, Instant.now()).toMillis();
    if (sinceStart <= 300) {
      Thread.sleep(301 - sinceStart);
    }
    Instant t1 = Instant.now().minusMillis(300).truncatedTo(ChronoUnit.MICROS);
    assertTrue(t1.isAfter(controllerStarted), "changes before the start are not tracked");
    slice(t1, "10.0.2.5@node-2", "10.0.3.5@node-3", "10.0.3.6@node-3");

    await("node-3 forwards the new pod", () -> sources("node-3").size() == 2);
    await("node-1 SNATs the new pod", () -> sources("node-1").size() == 3);
    assertEquals(t1, annotation("node-3"));
    assertEquals(t1, annotation("node-1"));
    assertEquals(node2Version, resourceVersion("node-2"), "node-2's plan did not change");
    await("two observations", () -> programming().count() == before + 2);
    assertTrue(
        programming().max(TimeUnit.MILLISECONDS) >= 300,
        "trigger → written includes the 300 ms before the slice write: "
            + programming().max(TimeUnit.MILLISECONDS));

    // a slice write that changes no plan: no plan write, and its trigger time is not kept for
    // the next write (which must carry its own change's time, not this older one)
    String node3Version = resourceVersion("node-3");
    Instant noop = Instant.now().minusMillis(200).truncatedTo(ChronoUnit.MICROS);
    slice(noop, "10.0.2.5@node-2", "10.0.3.5@node-3", "10.0.3.6@node-3");
    Instant t2 = Instant.now().truncatedTo(ChronoUnit.MICROS);
    slice(t2, "10.0.2.5@node-2", "10.0.3.5@node-3", "10.0.3.6@node-3", "10.0.3.7@node-3");
    await("node-3 forwards the third pod", () -> sources("node-3").size() == 3);
    assertEquals(t2, annotation("node-3"));
    assertTrue(!node3Version.equals(resourceVersion("node-3")));
  }

  @Test
  void aWriteWithoutATrackedChangeDropsTheOldTriggerTime() {
    Instant t1 = Instant.now().minusMillis(100).truncatedTo(ChronoUnit.MICROS);
    slice(t1, "10.0.2.5@node-2", "10.0.3.5@node-3", "10.0.3.6@node-3");
    await("node-3 forwards the new pod", () -> sources("node-3").size() == 2);
    assertEquals(t1, annotation("node-3"));
    // a hand edit: the controller puts the spec back; that write carries no change time, and
    // the agent must not measure t1 a second time
    EgressPlan edited = cluster.plan("node-3");
    edited.getSpec().getEntries().get(0).setSourceIPv4s(List.of("10.0.3.99"));
    cluster.client.resource(edited).update();
    await(
        "node-3's plan repaired", () -> sources("node-3").equals(List.of("10.0.3.5", "10.0.3.6")));
    assertNull(annotation("node-3"));
  }
}
