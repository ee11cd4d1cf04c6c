package de.metaleg.agent.loop;

import de.metaleg.agent.kernel.Dataplane;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import de.metaleg.common.Threads;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's reconcile loop, one thread: schedules syncs and runs each as a checklist: take the
 * latest plan, program it ({@link PlanSync}: validate, recover, keep last good, program the
 * kernel), record metrics and logs, write status if it changed ({@link StatusWriter}).
 *
 * <p>Triggers: a plan event (incremental sync), the canary finding drift (full), the periodic full
 * resync, and a retry after a failure (full, with backoff). Fail static: without a plan (deleted,
 * never seen, API server unreachable) nothing is synced and the kernel keeps its state.
 */
public final class AgentLoop implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentLoop.class);

  private final String nodeName;
  private final Dataplane dataplane;
  private final AgentMetrics metrics;
  private final Clock clock;
  private final String version;
  private final Duration resyncInterval;
  private final Duration canaryInterval;
  private final ScheduledExecutorService worker =
      Executors.newSingleThreadScheduledExecutor(Threads.daemon("metaleg-sync"));

  // written by informer threads, read by the worker
  private volatile EgressPlan latest;
  // worker-thread state
  private boolean pending;
  private boolean pendingFull = true;
  private final PlanSync planSync;
  private final StatusWriter statusWriter;
  private List<String> lastLoggedProblems = List.of();
  private static final Duration NO_PLAN_WARNING_EVERY = Duration.ofMinutes(1);
  private Instant lastNoPlanWarning = Instant.EPOCH;
  private Duration backoff = Duration.ZERO;
  private volatile boolean ready;
  private volatile Instant syncStartedAt;
  private final Object triggerOrder = new Object();
  private long triggers; // guarded by triggerOrder
  private long acceptedTrigger; // worker: the newest trigger a pass will cover
  private volatile long handledTrigger;
  private String lastShape = "";
  private final ProgrammingLatency programmingLatency;
  static final Duration STUCK_AFTER = Duration.ofMinutes(5);

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
    this.metrics = metrics;
    this.clock = clock;
    this.version = version;
    this.resyncInterval = resyncInterval;
    this.canaryInterval = canaryInterval;
    this.programmingLatency = new ProgrammingLatency(metrics, clock.instant());
    this.planSync = new PlanSync(dataplane);
    this.statusWriter =
        new StatusWriter(
            nodeName, statusSink, metrics, clock, resyncInterval, worker, () -> latest != null);
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
    if (previous != null && Objects.equals(previous.getSpec(), plan.getSpec())) {
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

  /** One sync: program the plan (see {@link PlanSync}), then log, measure and write status. */
  private void sync(EgressPlan plan, boolean full) {
    statusWriter.adopt(plan.getStatus());
    long generation = Optional.ofNullable(plan.getMetadata().getGeneration()).orElse(0L);
    long t0 = System.nanoTime();
    PlanSync.Outcome outcome = planSync.run(plan.getSpec(), full);
    outcome.result().ifPresent(result -> succeeded(plan, generation, result, outcome.took()));
    outcome.failure().ifPresent(this::failed);
    List<String> problems = new ArrayList<>(outcome.problems());
    dataplane.warning().ifPresent(problems::add); // e.g. a CNI fighting over our jumps
    logProblems(problems);
    EgressPlanStatus status =
        StatusBuilder.build(
            statusWriter.previous(),
            new StatusBuilder.Outcome(
                generation,
                planSync.programmed(),
                problems,
                outcome.failure(),
                dataplane.firewallBackend(),
                dataplane.routeBackend(),
                clock.instant(),
                Duration.ofNanos(System.nanoTime() - t0).toMillis(),
                version));
    metrics.planStatus(status);
    statusWriter.write(status);
  }

  private void succeeded(
      EgressPlan plan, long generation, Dataplane.SyncResult result, Duration took) {
    metrics.synced(result.full(), took, result.state(), clock.instant().getEpochSecond());
    programmingLatency.measure(plan, clock.instant());
    backoff = Duration.ZERO;
    ready = true;
    String summary =
        String.format(
            "%s sync of generation %d: %s, took %d ms %s",
            result.full() ? "full" : "incremental",
            generation,
            new TreeMap<>(result.state().counts()),
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
  }

  private void failed(String failure) {
    metrics.failed();
    backoff =
        backoff.isZero()
            ? Duration.ofSeconds(1)
            : min(backoff.multipliedBy(2), Duration.ofSeconds(30));
    LOG.error("sync failed, full resync in {} s: {}", backoff.toSeconds(), failure);
    worker.schedule(() -> trigger(true), backoff.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void logProblems(List<String> problems) {
    if (!problems.isEmpty() && !problems.equals(lastLoggedProblems)) {
      LOG.warn(
          "EgressPlan {} degraded ({} problems): {}",
          nodeName,
          problems.size(),
          StatusBuilder.summarize(problems).replace('\n', ';'));
    }
    lastLoggedProblems = problems;
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

  static Duration min(Duration a, Duration b) {
    return a.compareTo(b) < 0 ? a : b;
  }

  @Override
  public void close() {
    worker.shutdownNow();
  }
}
