package de.metaleg.agent.loop;

import de.metaleg.agent.render.DesiredState;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.LatencyBuckets;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/** The agent's Prometheus metrics (names as scraped, with the metaleg_agent_ prefix). */
public final class AgentMetrics {
  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Timer fullSyncs;
  private final Timer incrementalSyncs;
  private final Counter failures;
  private final Counter canaryResyncs;
  private final Counter statusWrites;
  private final Counter statusWriteFailures;
  private final Timer networkProgramming;
  private final Map<Role, AtomicInteger> entries = new EnumMap<>(Role.class);
  private final Map<Role, AtomicInteger> rules = new EnumMap<>(Role.class);
  private final AtomicInteger planPresent = new AtomicInteger();
  private final AtomicInteger planReady = new AtomicInteger();
  private final AtomicInteger planDegraded = new AtomicInteger();
  private final AtomicLong lastSuccess = new AtomicLong();

  public AgentMetrics() {
    fullSyncs = syncTimer("full");
    incrementalSyncs = syncTimer("incremental");
    failures =
        Counter.builder("metaleg.agent.sync.failures")
            .description("Syncs that failed (the next one is a full resync)")
            .register(registry);
    canaryResyncs =
        Counter.builder("metaleg.agent.canary.resyncs")
            .description("Full resyncs triggered because the canary found owned state missing")
            .register(registry);
    statusWrites =
        Counter.builder("metaleg.agent.status.writes")
            .description("EgressPlan status writes")
            .register(registry);
    statusWriteFailures =
        Counter.builder("metaleg.agent.status.write.failures")
            .description("EgressPlan status writes the API server refused or did not answer")
            .register(registry);
    networkProgramming =
        Timer.builder("metaleg.network.programming.duration")
            .description(
                "From the trigger time of a change (the plan's metaleg.de/last-change-trigger-time:"
                    + " EndpointSlice, Service, ServiceL2Status or Node change) to this node's"
                    + " kernel programmed with it")
            .serviceLevelObjectives(LatencyBuckets.array())
            .register(registry);
    for (Role r : Role.values()) {
      entries.put(r, new AtomicInteger());
      rules.put(r, new AtomicInteger());
      Gauge.builder("metaleg.agent.entries", entries.get(r), AtomicInteger::get)
          .description("Entries programmed, by effective role")
          .tag("role", r.name())
          .register(registry);
      Gauge.builder("metaleg.agent.rules", rules.get(r), AtomicInteger::get)
          .description(
              "Firewall rules programmed, by role: one per Service and family as rendered"
                  + " (iptables spells a reject as two rules, nftables as set elements)")
          .tag("role", r.name())
          .register(registry);
    }
    Gauge.builder("metaleg.agent.plan.present", planPresent, AtomicInteger::get)
        .description(
            "1 when this node's EgressPlan is known; 0: kernel state is kept as last programmed")
        .register(registry);
    Gauge.builder("metaleg.agent.plan.ready", planReady, AtomicInteger::get)
        .description(
            "1 when the newest status this agent computed says Ready for the plan's generation")
        .register(registry);
    Gauge.builder("metaleg.agent.plan.degraded", planDegraded, AtomicInteger::get)
        .description("1 when the newest status says Degraded: entries not programmed as asked")
        .register(registry);
    Gauge.builder("metaleg.agent.last.success.timestamp.seconds", lastSuccess, AtomicLong::get)
        .description("Unix time of the last successful sync")
        .register(registry);
  }

  private Timer syncTimer(String kind) {
    return Timer.builder("metaleg.agent.sync.duration")
        .description("Time to program the kernel for one sync")
        .tag("kind", kind)
        .serviceLevelObjectives(LatencyBuckets.array())
        .register(registry);
  }

  /** Exposes whether the plan watch is connected. */
  public void watchConnected(BooleanSupplier connected) {
    Gauge.builder("metaleg.agent.watch.connected", () -> connected.getAsBoolean() ? 1 : 0)
        .description("1 while the watch on this node's EgressPlan is connected")
        .register(registry);
  }

  /** Exposes the conntrack entries the transition protocol deleted. */
  public void conntrackDeletions(java.util.function.LongSupplier deleted) {
    io.micrometer.core.instrument.FunctionCounter.builder(
            "metaleg.agent.conntrack.entries.deleted", deleted, s -> s.getAsLong())
        .description("Stale connection-tracking entries deleted after treatment changes")
        .register(registry);
  }

  /** Exposes the packets each transition guard dropped (from the guard rules' counters). */
  public void guardDrops(java.util.function.Function<String, Long> drops) {
    for (de.metaleg.agent.render.Guard g : de.metaleg.agent.render.Guard.values()) {
      io.micrometer.core.instrument.FunctionCounter.builder(
              "metaleg.agent.guard.drops", g, x -> drops.apply(x.label()))
          .description("Packets dropped by a transition guard rule (both families)")
          .tag("guard", g.label())
          .register(registry);
    }
  }

  /**
   * Records one successful sync from the state the dataplane programmed: its entry counts, and its
   * rules per role as rendered (one per Service and family, whatever a backend spells it as).
   */
  public void synced(boolean full, Duration took, DesiredState state, long epochSeconds) {
    (full ? fullSyncs : incrementalSyncs).record(took);
    state.counts().forEach((role, n) -> entries.get(role).set(n));
    rules.get(Role.Forward).set(state.marks().size());
    rules.get(Role.Gateway).set(state.snats().size());
    rules.get(Role.Reject).set(state.rejects().size());
    lastSuccess.set(epochSeconds);
  }

  /** One plan change, from its trigger time to the kernel programmed. */
  public void networkProgrammed(Duration sinceTrigger) {
    networkProgramming.record(sinceTrigger.isNegative() ? Duration.ZERO : sinceTrigger);
  }

  public void failed() {
    failures.increment();
  }

  public void canaryResync() {
    canaryResyncs.increment();
  }

  public void statusWritten() {
    statusWrites.increment();
  }

  public void statusWriteFailed() {
    statusWriteFailures.increment();
  }

  /** The conditions of the status just computed (written or still to be written). */
  public void planStatus(EgressPlanStatus status) {
    planReady.set(isTrue(status, EgressPlanStatus.CONDITION_READY) ? 1 : 0);
    planDegraded.set(isTrue(status, EgressPlanStatus.CONDITION_DEGRADED) ? 1 : 0);
  }

  private static boolean isTrue(EgressPlanStatus status, String type) {
    return status.condition(type).map(c -> "True".equals(c.getStatus())).orElse(false);
  }

  public double statusWrites() {
    return statusWrites.count();
  }

  public void planPresent(boolean present) {
    planPresent.set(present ? 1 : 0);
    if (!present) {
      planReady.set(0); // no plan, nothing is Ready
    }
  }

  public String scrape() {
    return registry.scrape();
  }
}
