package de.metaleg.controller.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;

import de.metaleg.common.LatencyBuckets;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ControllerMetricsTest {
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
