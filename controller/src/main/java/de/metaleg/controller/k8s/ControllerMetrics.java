package de.metaleg.controller.k8s;

import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.LatencyBuckets;
import de.metaleg.controller.plan.PlanningState;
import de.metaleg.controller.plan.ServiceKey;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * MetalEG's own controller metrics (JOSDK's reconciliation metrics come from micrometer-support):
 *
 * <ul>
 *   <li>{@code metaleg_controller_plans_written_total{operation=create|update|delete}}
 *   <li>{@code metaleg_controller_planning_seconds{scope=full|node}}: planner time
 *   <li>{@code metaleg_controller_services{state=ok|rejected|no_endpoints|invalid}}
 *   <li>{@code metaleg_controller_plan_entries{role=Gateway|Forward|Reject}}: over all plans
 *   <li>{@code metaleg_controller_oversized_plans}: plans over the size limit
 *   <li>{@code metaleg_controller_gateway_missing_seconds_total{service}}: time each Service spent
 *       without an announcer (grace period included)
 *   <li>{@code metaleg_controller_services_without_gateway}: Services no announcer names a node for
 *       right now (bridged by the grace period or not)
 *   <li>{@code metaleg_controller_gateway_moves_total{service}}: announcer moves to another node
 *   <li>{@code metaleg_controller_programming_duration_seconds}: change trigger time → plan written
 * </ul>
 *
 * <p>The per-Service series exist while the Service is labelled and usable (a LoadBalancer with an
 * IP); they start at 0 when the controller starts.
 */
public final class ControllerMetrics {
  private final MeterRegistry registry;
  private final Map<String, EnumMap<Role, Integer>> entriesByNode = new ConcurrentHashMap<>();
  private final Set<String> oversized = ConcurrentHashMap.newKeySet();
  private final Timer fullPlanning;
  private final Timer nodePlanning;
  private final PlanningState state;
  private final Map<ServiceKey, List<Meter>> gatewayMeters = new ConcurrentHashMap<>();
  private long gatewayMetersFor = -1; // the state's gatewayServicesVersion the meters match
  private final Timer programming;

  public ControllerMetrics(MeterRegistry registry, PlanningState state) {
    this.registry = registry;
    this.state = state;
    this.fullPlanning = planningTimer("full");
    this.nodePlanning = planningTimer("node");
    this.programming =
        Timer.builder("metaleg_controller_programming_duration_seconds")
            .description(
                "From a change's trigger time (EndpointSlice last-change-trigger-time, Service,"
                    + " ServiceL2Status or Node write) to the EgressPlan write that carries it")
            .serviceLevelObjectives(LatencyBuckets.array())
            .register(registry);
    for (String s : new String[] {"ok", "rejected", "no_endpoints", "invalid"}) {
      Gauge.builder("metaleg_controller_services", state, st -> countServices(st, s))
          .description("Labelled Services by state")
          .tag("state", s)
          .register(registry);
    }
    for (Role role : Role.values()) {
      Gauge.builder("metaleg_controller_plan_entries", entriesByNode, m -> sum(m, role))
          .description("Entries over all EgressPlans, by role")
          .tag("role", role.name())
          .register(registry);
    }
    Gauge.builder("metaleg_controller_oversized_plans", oversized, Set::size)
        .description("EgressPlans whose spec exceeds the size limit (about 1 MiB)")
        .register(registry);
    Gauge.builder(
            "metaleg_controller_services_without_gateway",
            state,
            PlanningState::servicesWithoutAnnouncer)
        .description("Services no ServiceL2Status names a node for, inside the grace period or not")
        .register(registry);
  }

  /**
   * Keeps one missing-seconds and one moves counter per Service the planning state tracks: new
   * Services get theirs, deleted ones lose them. Only when a Service entered or left since the last
   * call ({@link PlanningState#gatewayServicesVersion}): copying and walking 10,000 keys on every
   * event was over half the controller's CPU at start-up.
   */
  public synchronized void syncGatewayServices() {
    long version = state.gatewayServicesVersion();
    if (version != gatewayMetersFor) {
      gatewayServices(state.gatewayServices());
      gatewayMetersFor = version;
    }
  }

  /** Per-Service counters for exactly {@code keys} (what {@link #syncGatewayServices} keeps). */
  public synchronized void gatewayServices(Set<ServiceKey> keys) {
    for (ServiceKey k : keys) {
      gatewayMeters.computeIfAbsent(k, this::gatewayMeters);
    }
    if (gatewayMeters.size() == keys.size()) {
      return;
    }
    for (ServiceKey k : List.copyOf(gatewayMeters.keySet())) {
      if (!keys.contains(k)) {
        gatewayMeters.remove(k).forEach(registry::remove);
      }
    }
  }

  private List<Meter> gatewayMeters(ServiceKey k) {
    return List.of(
        FunctionCounter.builder(
                "metaleg_controller_gateway_missing_seconds_total",
                state,
                st -> st.secondsWithoutAnnouncer(k))
            .description("Seconds the Service had no announcing node, grace period included")
            .tag("service", k.toString())
            .register(registry),
        FunctionCounter.builder(
                "metaleg_controller_gateway_moves_total", state, st -> st.gatewayMoves(k))
            .description("Times MetalLB moved the Service's announcement to another node")
            .tag("service", k.toString())
            .register(registry));
  }

  private Timer planningTimer(String scope) {
    return Timer.builder("metaleg_controller_planning_seconds")
        .description("Planner time (no API I/O)")
        .tag("scope", scope)
        .register(registry);
  }

  public <T> T timeFullPlanning(Supplier<T> work) {
    return fullPlanning.record(work);
  }

  public <T> T timeNodePlanning(Supplier<T> work) {
    return nodePlanning.record(work);
  }

  /** The controller's share of the network-programming latency of one plan write. */
  public void planProgrammed(java.time.Duration sinceTrigger) {
    programming.record(sinceTrigger.isNegative() ? java.time.Duration.ZERO : sinceTrigger);
  }

  public void planWritten(String operation) {
    Counter.builder("metaleg_controller_plans_written_total")
        .description("EgressPlan writes by the controller")
        .tag("operation", operation)
        .register(registry)
        .increment();
  }

  public void planDesired(EgressPlanSpec spec) {
    EnumMap<Role, Integer> counts = new EnumMap<>(Role.class);
    for (EgressEntry e : spec.getEntries()) {
      Role.parse(e.getRole()).ifPresent(r -> counts.merge(r, 1, Integer::sum));
    }
    entriesByNode.put(spec.getNodeName(), counts);
  }

  /** Records whether the node's plan is too large; returns whether it was before. */
  public boolean oversized(String node, boolean tooLarge) {
    return tooLarge ? !oversized.add(node) : oversized.remove(node);
  }

  public void nodeGone(String node) {
    entriesByNode.remove(node);
    oversized.remove(node);
  }

  /**
   * Replaces the ~70 buckets of every percentile-histogram timer (JOSDK's reconciliation timers ask
   * for one) by the {@link LatencyBuckets}. Install before any meter is registered.
   */
  public static MeterFilter fixedBuckets() {
    double[] nanos = LatencyBuckets.bounds().stream().mapToDouble(d -> d.toNanos()).toArray();
    return new MeterFilter() {
      @Override
      public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig c) {
        if (id.getType() != Meter.Type.TIMER || !Boolean.TRUE.equals(c.isPercentileHistogram())) {
          return c;
        }
        return DistributionStatisticConfig.builder()
            .percentilesHistogram(false)
            .serviceLevelObjectives(nanos)
            .build()
            .merge(c);
      }
    };
  }

  private static double sum(Map<String, EnumMap<Role, Integer>> m, Role role) {
    return m.values().stream().mapToInt(c -> c.getOrDefault(role, 0)).sum();
  }

  /**
   * One state per labelled Service, as an operator would group them on a dashboard: read from the
   * decisions the planning state made for the nodes that forward (ok when none rejects).
   */
  static String state(PlanningState.PlannedService p) {
    if (!p.service().usable()) {
      return "invalid";
    }
    if (!p.service().hasRules()) {
      return "no_endpoints";
    }
    boolean ok = p.elsewhere().stream().noneMatch(d -> d.role() == Role.Reject);
    return ok ? "ok" : "rejected";
  }

  private static double countServices(PlanningState state, String wanted) {
    return state.plannedServices().stream().filter(p -> state(p).equals(wanted)).count();
  }
}
