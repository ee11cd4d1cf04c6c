package de.metaleg.agent.loop;

import de.metaleg.agent.kernel.Dataplane;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.plan.Conversion;
import de.metaleg.agent.plan.PlanConverter;
import de.metaleg.agent.render.DesiredState;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's reconcile loop, one thread. Each sync reads like a checklist: take the latest plan,
 * convert and validate it, program the kernel, record metrics, write status if it changed.
 *
 * <p>Triggers: a plan event (incremental sync), the canary finding drift (full), the periodic full
 * resync, and a retry after a failure (full, with backoff). Fail static: without a plan (deleted,
 * never seen, API server unreachable) nothing is synced and the kernel keeps its state.
 */
public final class AgentLoop implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentLoop.class);

  private final String nodeName;
  private final Dataplane dataplane;
  private final StatusSink statusSink;
  private final AgentMetrics metrics;
  private final Clock clock;
  private final String version;
  private final Duration resyncInterval;
  private final Duration canaryInterval;
  private final ScheduledExecutorService worker =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "metaleg-sync");
            t.setDaemon(true);
            return t;
          });

  // written by informer threads, read by the worker
  private volatile EgressPlan latest;
  // worker-thread state
  private boolean pending;
  private boolean pendingFull = true;
  private Map<String, List<Entry>> lastGood = Map.of();
  private final Set<String> recoveryTried = new HashSet<>();
  private List<String> lastLoggedProblems = List.of();
  private static final Duration NO_PLAN_WARNING_EVERY = Duration.ofMinutes(1);
  private Instant lastNoPlanWarning = Instant.EPOCH;
  private Optional<DesiredState> programmed = Optional.empty();
  private EgressPlanStatus written;
  private EgressPlanStatus unwritten;
  private Instant writtenAt = Instant.EPOCH;
  private Duration statusBackoff = Duration.ZERO;
  private boolean statusRetryScheduled;
  private Duration backoff = Duration.ZERO;
  private volatile boolean ready;
  private volatile Instant syncStartedAt;
  private final Object triggerOrder = new Object();
  private long triggers; // guarded by triggerOrder
  private long acceptedTrigger; // worker: the newest trigger a pass will cover
  private volatile long handledTrigger;
  private String lastShape = "";
  private final Instant startedAt;
  private Instant lastTriggerMeasured;
  static final Duration STUCK_AFTER = Duration.ofMinutes(5);
  static final Duration STATUS_RETRY_FIRST = Duration.ofMillis(100);
  static final Duration STATUS_RETRY_MAX = Duration.ofSeconds(10);

  public AgentLoop(
      String nodeName,
      Dataplane dataplane,
      StatusSink statusSink,
      AgentMetrics metrics,
      Clock clock,
      String version,
      Duration resyncInterval,
      Duration canaryInterval) {
    this.nodeName = nodeName;
    this.dataplane = dataplane;
    this.statusSink = statusSink;
    this.metrics = metrics;
    this.clock = clock;
    this.version = version;
    this.resyncInterval = resyncInterval;
    this.canaryInterval = canaryInterval;
    this.startedAt = clock.instant();
  }

  public void start() {
    worker.scheduleWithFixedDelay(
        () -> trigger(true),
        resyncInterval.toMillis(),
        resyncInterval.toMillis(),
        TimeUnit.MILLISECONDS);
    worker.scheduleWithFixedDelay(
        this::canary, canaryInterval.toMillis(), canaryInterval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The plan was added or changed (informer thread). */
  public void onPlan(EgressPlan plan) {
    if (plan == null || !nodeName.equals(plan.getMetadata().getName())) {
      return;
    }
    EgressPlan previous = latest;
    latest = plan;
    metrics.planPresent(true);
    if (previous != null && java.util.Objects.equals(previous.getSpec(), plan.getSpec())) {
      return; // e.g. our own status write, or a relist: nothing to program
    }
    trigger(false);
  }

  /** The plan was deleted: keep the kernel as it is (fail static) until a plan says otherwise. */
  public void onPlanDeleted() {
    latest = null;
    metrics.planPresent(false);
    LOG.warn(
        "EgressPlan {} was deleted; keeping the last programmed kernel state until a plan exists"
            + " again (use --cleanup to remove it)",
        nodeName);
  }

  public boolean ready() {
    return ready;
  }

  /** Liveness: false when one sync has been running for more than {@link #STUCK_AFTER}. */
  public boolean healthy() {
    Instant started = syncStartedAt;
    return started == null || clock.instant().isBefore(started.plus(STUCK_AFTER));
  }

  /**
   * Asks for a sync; coalesces with one already pending. Returns the trigger's number, which {@link
   * #handledTrigger()} reaches once a pass covering it has finished.
   */
  public long trigger(boolean full) {
    synchronized (triggerOrder) { // numbers reach the worker in order
      long number = ++triggers;
      worker.execute(
          () -> {
            acceptedTrigger = number;
            pendingFull |= full;
            if (!pending) {
              pending = true;
              worker.execute(this::syncPending);
            }
          });
      return number;
    }
  }

  /**
   * The newest trigger (see {@link #trigger}) whose pass has finished, with or without a plan to
   * sync: lets tests see that the loop looked before they assert that nothing happened.
   */
  public long handledTrigger() {
    return handledTrigger;
  }

  private void syncPending() {
    pending = false;
    boolean full = pendingFull;
    pendingFull = false;
    long covers = acceptedTrigger;
    EgressPlan plan = latest;
    try {
      if (plan == null || plan.getSpec() == null) {
        pendingFull |= full;
        return;
      }
      syncStartedAt = clock.instant();
      sync(plan, full);
    } finally {
      syncStartedAt = null;
      handledTrigger = covers;
    }
  }

  private void sync(EgressPlan plan, boolean full) {
    Conversion conversion = PlanConverter.convert(plan.getSpec(), lastGood);
    Set<String> toRecover = new HashSet<>(conversion.unknownGood());
    toRecover.removeAll(recoveryTried);
    if (!toRecover.isEmpty()) {
      // after a restart: an invalid entry keeps what the previous process programmed for it
      recoveryTried.addAll(toRecover);
      try {
        Map<String, List<Entry>> recovered = dataplane.recoverEntries(toRecover, conversion.plan());
        if (!recovered.isEmpty()) {
          Map<String, List<Entry>> merged = new HashMap<>(lastGood);
          merged.putAll(recovered);
          conversion = PlanConverter.convert(plan.getSpec(), merged);
        }
      } catch (RuntimeException e) {
        LOG.warn("cannot recover the programmed state of {}: {}", toRecover, e.getMessage());
      }
    }
    if (written == null && plan.getStatus() != null) {
      // after a restart: the status the previous process wrote is the one conditions transition
      // from, so lastTransitionTime survives restarts (the informer's copy, no extra read)
      written = plan.getStatus();
    }
    long generation = Optional.ofNullable(plan.getMetadata().getGeneration()).orElse(0L);
    long t0 = System.nanoTime();
    Optional<String> failure = Optional.empty();
    List<String> problems = new ArrayList<>(conversion.problems());
    try {
      Dataplane.SyncResult result = dataplane.sync(conversion.plan(), full);
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      lastGood = conversion.lastGoodByService();
      programmed = Optional.of(result.state());
      problems.addAll(result.state().problems());
      metrics.synced(result.full(), took, result.state(), clock.instant().getEpochSecond());
      measureProgramming(plan);
      backoff = Duration.ZERO;
      ready = true;
      String summary =
          String.format(
              "%s sync of generation %d: %s, took %d ms %s",
              result.full() ? "full" : "incremental",
              generation,
              new java.util.TreeMap<>(result.state().counts()),
              took.toMillis(),
              result.stepMillis());
      String shape = result.state().counts() + " " + result.state().gateways();
      if (result.full() || !shape.equals(lastShape)) {
        LOG.info("{}", summary); // full syncs and changes of roles or gateways
      } else {
        LOG.debug("{}", summary); // endpoint changes
      }
      lastShape = shape;
      dataplane
          .nextDeadline()
          .ifPresent(
              at -> {
                long delay = Math.max(0, Duration.between(clock.instant(), at).toMillis()) + 10;
                worker.schedule(() -> trigger(false), delay, TimeUnit.MILLISECONDS);
              });
    } catch (RuntimeException e) {
      metrics.failed();
      failure = Optional.of(e.getMessage());
      programmed.ifPresent(p -> problems.addAll(p.problems()));
      backoff =
          backoff.isZero()
              ? Duration.ofSeconds(1)
              : min(backoff.multipliedBy(2), Duration.ofSeconds(30));
      LOG.error("sync failed, full resync in {} s: {}", backoff.toSeconds(), e.getMessage());
      worker.schedule(() -> trigger(true), backoff.toMillis(), TimeUnit.MILLISECONDS);
    }
    dataplane.warning().ifPresent(problems::add); // e.g. a CNI fighting over our jumps
    if (!problems.isEmpty() && !problems.equals(lastLoggedProblems)) {
      LOG.warn(
          "EgressPlan {} degraded ({} problems): {}",
          nodeName,
          problems.size(),
          StatusBuilder.summarize(problems).replace('\n', ';'));
    }
    lastLoggedProblems = problems;
    long millis = Duration.ofNanos(System.nanoTime() - t0).toMillis();
    EgressPlanStatus status =
        StatusBuilder.build(
            unwritten != null ? unwritten : written,
            new StatusBuilder.Outcome(
                generation,
                programmed,
                problems,
                failure,
                dataplane.firewallBackend(),
                dataplane.routeBackend(),
                clock.instant(),
                millis,
                version));
    writeStatus(status);
  }

  /**
   * Writes unless only the sync time changed; a heartbeat write still happens once per resync
   * interval so lastSyncTime does not go stale forever. The write has no resourceVersion
   * precondition (see {@link StatusSink}), so a spec write in between cannot make it fail; other
   * API errors are retried with back-off from {@link #STATUS_RETRY_FIRST} to {@link
   * #STATUS_RETRY_MAX}, always with the newest unwritten status.
   */
  private void writeStatus(EgressPlanStatus status) {
    boolean heartbeatDue = clock.instant().isAfter(writtenAt.plus(resyncInterval));
    if (StatusBuilder.sameExceptSyncTime(written, status) && !heartbeatDue) {
      unwritten = null;
      return;
    }
    unwritten = status;
    flushStatus();
  }

  private void flushStatus() {
    EgressPlanStatus status = unwritten;
    if (status == null || latest == null) {
      return; // nothing to write, or the plan is gone (a new plan brings a new sync)
    }
    try {
      statusSink.write(nodeName, status);
      written = status;
      writtenAt = clock.instant();
      unwritten = null;
      statusBackoff = Duration.ZERO;
      metrics.statusWritten();
    } catch (RuntimeException e) {
      statusBackoff =
          statusBackoff.isZero()
              ? STATUS_RETRY_FIRST
              : min(statusBackoff.multipliedBy(2), STATUS_RETRY_MAX);
      LOG.warn(
          "cannot write EgressPlan {} status, retrying in {} ms: {}",
          nodeName,
          statusBackoff.toMillis(),
          e.getMessage());
      if (!statusRetryScheduled) {
        statusRetryScheduled = true;
        worker.schedule(
            () -> {
              statusRetryScheduled = false;
              flushStatus();
            },
            statusBackoff.toMillis(),
            TimeUnit.MILLISECONDS);
      }
    }
  }

  private void canary() {
    if (latest == null && clock.instant().isAfter(lastNoPlanWarning.plus(NO_PLAN_WARNING_EVERY))) {
      lastNoPlanWarning = clock.instant();
      LOG.warn(
          "no EgressPlan {} known (not created yet, deleted, or API server unreachable); the kernel"
              + " keeps its last programmed state",
          nodeName);
    }
    try {
      Optional<String> drift = dataplane.drift();
      if (drift.isPresent()) {
        LOG.warn(
            "canary: owned kernel state changed behind our back ({}); full resync", drift.get());
        metrics.canaryResync();
        trigger(true);
      }
    } catch (RuntimeException e) {
      LOG.warn("canary check failed: {}", e.getMessage());
      trigger(true);
    }
  }

  /**
   * The network-programming SLI: the plan's trigger time to now (kernel programmed), once per
   * trigger time. As in kube-proxy, times from before this process started are not measured (a
   * restart's first sync is not a change), nor is a plan without the annotation.
   */
  private void measureProgramming(EgressPlan plan) {
    Map<String, String> annotations = plan.getMetadata().getAnnotations();
    String value =
        annotations == null ? null : annotations.get(EgressPlan.LAST_CHANGE_TRIGGER_TIME);
    if (value == null) {
      return;
    }
    Instant t;
    try {
      t = Instant.parse(value);
    } catch (java.time.format.DateTimeParseException e) {
      LOG.debug("ignoring unparsable {}: {}", EgressPlan.LAST_CHANGE_TRIGGER_TIME, value);
      return;
    }
    if (t.isBefore(startedAt) || t.equals(lastTriggerMeasured)) {
      return;
    }
    lastTriggerMeasured = t;
    metrics.networkProgrammed(Duration.between(t, clock.instant()));
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) < 0 ? a : b;
  }

  @Override
  public void close() {
    worker.shutdownNow();
  }
}
