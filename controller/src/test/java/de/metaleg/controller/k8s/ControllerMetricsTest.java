package de.metaleg.controller.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

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
    metrics.gatewayServices(state.gatewayServices());

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
    metrics.gatewayServices(state.gatewayServices());
    assertFalse(
        registry.scrape().contains("service=\"ns/a\""), "a deleted Service's series go away");
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
