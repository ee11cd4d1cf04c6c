package de.metaleg.agent.loop;

import de.metaleg.api.v1alpha1.EgressPlanStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes this node's plan status when it changed. Unless only the sync time changed: a heartbeat
 * write still happens once per resync interval so lastSyncTime does not go stale forever. The write
 * has no resourceVersion precondition (see {@link StatusSink}), so a spec write in between cannot
 * make it fail; other API errors are retried with back-off from {@link #RETRY_FIRST} to {@link
 * #RETRY_MAX}, always with the newest unwritten status. Worker thread only.
 */
final class StatusWriter {
  private static final Logger LOG = LoggerFactory.getLogger(StatusWriter.class);
  static final Duration RETRY_FIRST = Duration.ofMillis(100);
  static final Duration RETRY_MAX = Duration.ofSeconds(10);

  private final String nodeName;
  private final StatusSink sink;
  private final AgentMetrics metrics;
  private final Clock clock;
  private final Duration heartbeat;
  private final ScheduledExecutorService worker;
  private final BooleanSupplier planKnown;
  private EgressPlanStatus written;
  private EgressPlanStatus unwritten;
  private Instant writtenAt = Instant.EPOCH;
  private Duration backoff = Duration.ZERO;
  private boolean retryScheduled;

  StatusWriter(
      String nodeName,
      StatusSink sink,
      AgentMetrics metrics,
      Clock clock,
      Duration heartbeat,
      ScheduledExecutorService worker,
      BooleanSupplier planKnown) {
    this.nodeName = nodeName;
    this.sink = sink;
    this.metrics = metrics;
    this.clock = clock;
    this.heartbeat = heartbeat;
    this.worker = worker;
    this.planKnown = planKnown;
  }

  /**
   * After a restart: the status the previous process wrote (the informer's copy, no extra read) is
   * the one conditions transition from, so lastTransitionTime survives restarts.
   */
  void adopt(EgressPlanStatus fromCluster) {
    if (written == null && fromCluster != null) {
      written = fromCluster;
    }
  }

  /** The status the next one is built from: the newest, written or still to be written. */
  EgressPlanStatus previous() {
    return unwritten != null ? unwritten : written;
  }

  void write(EgressPlanStatus status) {
    boolean heartbeatDue = clock.instant().isAfter(writtenAt.plus(heartbeat));
    if (StatusBuilder.sameExceptSyncTime(written, status) && !heartbeatDue) {
      unwritten = null;
      return;
    }
    unwritten = status;
    flush();
  }

  private void flush() {
    EgressPlanStatus status = unwritten;
    if (status == null || !planKnown.getAsBoolean()) {
      return; // nothing to write, or the plan is gone (a new plan brings a new sync)
    }
    try {
      sink.write(nodeName, status);
      written = status;
      writtenAt = clock.instant();
      unwritten = null;
      backoff = Duration.ZERO;
      metrics.statusWritten();
    } catch (RuntimeException e) {
      metrics.statusWriteFailed();
      backoff = backoff.isZero() ? RETRY_FIRST : AgentLoop.min(backoff.multipliedBy(2), RETRY_MAX);
      LOG.warn(
          "cannot write EgressPlan {} status, retrying in {} ms: {}",
          nodeName,
          backoff.toMillis(),
          e.getMessage());
      if (!retryScheduled) {
        retryScheduled = true;
        worker.schedule(
            () -> {
              retryScheduled = false;
              flush();
            },
            backoff.toMillis(),
            TimeUnit.MILLISECONDS);
      }
    }
  }
}
