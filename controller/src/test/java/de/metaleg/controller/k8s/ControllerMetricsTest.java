package de.metaleg.controller.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.common.LatencyBuckets;
import de.metaleg.common.net.IpAddress;
import de.metaleg.controller.plan.AnnouncerInfo;
import de.metaleg.controller.plan.EndpointInput;
import de.metaleg.controller.plan.NodeInfo;
import de.metaleg.controller.plan.PlannerConfig;
import de.metaleg.controller.plan.PlanningState;
import de.metaleg.controller.plan.ServiceInput;
import de.metaleg.controller.plan.ServiceKey;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The gateway metrics as Prometheus scrapes them: other teams write alerts against these exact
 * names. Node N has InternalIP 192.0.2.N; Service ns/a (198.51.100.10) has a pod on node-2.
 */
class ControllerMetricsTest {
  static final ServiceKey A = new ServiceKey("ns", "a");

  static NodeInfo node(int n) {
    IpAddress ip = IpAddress.parse("192.0.2." + n).orElseThrow();
    return new NodeInfo("node-" + n, Optional.of(ip), Optional.empty(), Set.of(ip));
  }

  static AnnouncerInfo l2(String name, String node) {
    return new AnnouncerInfo("metallb-system", name, Instant.EPOCH, "a", "ns", null, node, null);
  }

  /** The scraped lines of one metric family, without HELP/TYPE. */
  static List<String> lines(PrometheusMeterRegistry registry, String name) {
    return registry
        .scrape()
        .lines()
        .filter(l -> l.startsWith(name + "{") || l.startsWith(name + " "))
        .toList();
  }

  static AnnouncerInfo l2(String name, String service, String node) {
    return new AnnouncerInfo(
        "metallb-system", name, Instant.EPOCH, service, "ns", null, node, null);
  }

  static ServiceInput lb(String name, String... ips) {
    return new ServiceInput(new ServiceKey("ns", name), true, "LoadBalancer", List.of(ips));
  }

  static Map<String, List<EndpointInput>> pods(String... ipAtNode) {
    return Map.of(
        "slice-1",
        java.util.Arrays.stream(ipAtNode)
            .map(s -> new EndpointInput(s.split("@")[0], s.split("@")[1], "p"))
            .toList());
  }

  /**
   * Services by state: ok (forwarded to a known gateway), rejected (no announcer, an unknown
   * announcing node, a gateway without an InternalIP of a family the Service has an LB IP for),
   * no_endpoints, invalid. Node 1 has only an IPv4 InternalIP.
   */
  @Test
  void servicesAreCountedByState() {
    PlanningState state =
        new PlanningState(new PlannerConfig("metallb-system", true, Duration.ZERO));
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new ControllerMetrics(registry, state);
    state.replaceAll(
        List.of(node(1), node(2)),
        List.of(
            lb("ok", "198.51.100.1"),
            lb("unannounced", "198.51.100.2"),
            lb("unknown-node", "198.51.100.3"),
            lb("no-v6-gateway", "198.51.100.4", "2001:db8:100::4"),
            lb("no-pods", "198.51.100.5"),
            new ServiceInput(new ServiceKey("ns", "cluster-ip"), true, "ClusterIP", List.of())),
        Map.of(
            new ServiceKey("ns", "ok"), pods("10.0.2.1@node-2"),
            new ServiceKey("ns", "unannounced"), pods("10.0.2.2@node-2"),
            new ServiceKey("ns", "unknown-node"), pods("10.0.2.3@node-2"),
            new ServiceKey("ns", "no-v6-gateway"), pods("10.0.2.4@node-2", "fd00::4@node-2")),
        List.of(
            l2("l2-ok", "ok", "node-1"),
            l2("l2-unknown", "unknown-node", "node-9"),
            l2("l2-v6", "no-v6-gateway", "node-1"),
            l2("l2-no-pods", "no-pods", "node-1")));
    assertEquals(
        List.of(
            "metaleg_controller_services{state=\"invalid\"} 1.0",
            "metaleg_controller_services{state=\"no_endpoints\"} 1.0",
            "metaleg_controller_services{state=\"ok\"} 1.0",
            "metaleg_controller_services{state=\"rejected\"} 3.0"),
        lines(registry, "metaleg_controller_services").stream().sorted().toList());

    state.putAnnouncer(l2("l2-late", "unannounced", "node-2"));
    assertEquals(
        List.of(
            "metaleg_controller_services{state=\"invalid\"} 1.0",
            "metaleg_controller_services{state=\"no_endpoints\"} 1.0",
            "metaleg_controller_services{state=\"ok\"} 2.0",
            "metaleg_controller_services{state=\"rejected\"} 2.0"),
        lines(registry, "metaleg_controller_services").stream().sorted().toList(),
        "an announcer makes it ok");
  }

  @Test
  void missingTimeMovesAndServicesWithoutGatewayAreScrapedUnderTheirAgreedNames() {
    AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-01-01T00:00:00Z"));
    PlanningState state =
        new PlanningState(
            new PlannerConfig("metallb-system", true, Duration.ofSeconds(2)), now::get);
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    ControllerMetrics metrics = new ControllerMetrics(registry, state);
    state.replaceAll(
        List.of(node(1), node(2), node(3)),
        List.of(new ServiceInput(A, true, "LoadBalancer", List.of("198.51.100.10"))),
        Map.of(A, Map.of("a-1", List.of(new EndpointInput("10.0.2.5", "node-2", "p")))),
        List.of(l2("l2-a", "node-1")));
    metrics.syncGatewayServices();

    now.set(now.get().plusMillis(100));
    state.removeAnnouncer("metallb-system/l2-a");
    now.set(now.get().plusMillis(1500)); // inside the grace: still counts as missing
    assertEquals(
        List.of("metaleg_controller_services_without_gateway 1.0"),
        lines(registry, "metaleg_controller_services_without_gateway"));
    assertEquals(
        List.of("metaleg_controller_gateway_missing_seconds_total{service=\"ns/a\"} 1.5"),
        lines(registry, "metaleg_controller_gateway_missing_seconds_total"));

    state.putAnnouncer(l2("l2-b", "node-3"));
    now.set(now.get().plusMillis(5000));
    assertEquals(
        List.of("metaleg_controller_services_without_gateway 0.0"),
        lines(registry, "metaleg_controller_services_without_gateway"));
    assertEquals(
        List.of("metaleg_controller_gateway_missing_seconds_total{service=\"ns/a\"} 1.5"),
        lines(registry, "metaleg_controller_gateway_missing_seconds_total"),
        "the clock stops when an announcer is back");
    assertEquals(
        List.of("metaleg_controller_gateway_moves_total{service=\"ns/a\"} 1.0"),
        lines(registry, "metaleg_controller_gateway_moves_total"));

    state.removeService(A);
    metrics.syncGatewayServices();
    assertFalse(
        registry.scrape().contains("service=\"ns/a\""), "a deleted Service's series go away");
  }

  /** ControllerMetrics refreshes the per-Service meters only when this version moved. */
  @Test
  void gatewayServicesVersionMovesWhenAServiceEntersOrLeavesNotOnOtherChanges() {
    AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-01-01T00:00:00Z"));
    PlanningState state =
        new PlanningState(new PlannerConfig("metallb-system", true, Duration.ZERO), now::get);
    long empty = state.gatewayServicesVersion();
    state.replaceAll(
        List.of(node(1), node(2), node(3)),
        List.of(new ServiceInput(A, true, "LoadBalancer", List.of("198.51.100.10"))),
        Map.of(A, Map.of("a-1", List.of(new EndpointInput("10.0.2.5", "node-2", "p")))),
        List.of(l2("l2-a", "node-1")));
    long withA = state.gatewayServicesVersion();
    assertEquals(Set.of(A), state.gatewayServices());
    assertTrue(withA > empty, "A entered");

    state.putAnnouncer(l2("l2-b", "node-3")); // the state changed (a move) ...
    now.set(now.get().plusSeconds(1));
    state.removeAnnouncer("metallb-system/l2-a");
    assertEquals(1, state.gatewayMoves(A), "the changes were applied");
    assertEquals(withA, state.gatewayServicesVersion(), "... but the set of Services did not");

    state.removeService(A);
    assertEquals(Set.of(), state.gatewayServices());
    assertTrue(state.gatewayServicesVersion() > withA, "A left");
  }

  @Test
  void percentileHistogramsGetTheFixedBuckets() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    registry.config().meterFilter(ControllerMetrics.fixedBuckets());
    // what JOSDK's MicrometerMetrics registers for reconciliations
    Timer.builder("operator.sdk.reconciliations.execution")
        .publishPercentiles(0.5, 0.95)
        .publishPercentileHistogram()
        .register(registry)
        .record(Duration.ofMillis(3));
    List<String> buckets =
        registry
            .scrape()
            .lines()
            .filter(l -> l.startsWith("operator_sdk_reconciliations_execution_seconds_bucket"))
            .toList();
    assertEquals(LatencyBuckets.COUNT + 1, buckets.size(), String.join("\n", buckets));
  }
}
