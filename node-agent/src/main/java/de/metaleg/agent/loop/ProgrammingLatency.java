package de.metaleg.agent.loop;

import de.metaleg.api.v1alpha1.EgressPlan;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The network-programming SLI: the plan's trigger time to now (kernel programmed), once per trigger
 * time. As in kube-proxy, times from before this process started are not measured (a restart's
 * first sync is not a change), nor is a plan without the annotation. Worker thread only.
 */
final class ProgrammingLatency {
  private static final Logger LOG = LoggerFactory.getLogger(ProgrammingLatency.class);
  private final AgentMetrics metrics;
  private final Instant startedAt;
  private Instant lastMeasured;

  ProgrammingLatency(AgentMetrics metrics, Instant startedAt) {
    this.metrics = metrics;
    this.startedAt = startedAt;
  }

  /** {@code plan} is programmed at {@code now}. */
  void measure(EgressPlan plan, Instant now) {
    Map<String, String> annotations = plan.getMetadata().getAnnotations();
    String value =
        annotations == null ? null : annotations.get(EgressPlan.LAST_CHANGE_TRIGGER_TIME);
    if (value == null) {
      return;
    }
    Instant t;
    try {
      t = Instant.parse(value);
    } catch (DateTimeParseException e) {
      LOG.debug("ignoring unparsable {}: {}", EgressPlan.LAST_CHANGE_TRIGGER_TIME, value);
      return;
    }
    if (t.isBefore(startedAt) || t.equals(lastMeasured)) {
      return;
    }
    lastMeasured = t;
    metrics.networkProgrammed(Duration.between(t, now));
  }
}
