package de.metaleg.agent.loop;

import de.metaleg.agent.model.MarkSpace;
import de.metaleg.agent.render.DesiredState;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import de.metaleg.api.v1alpha1.GatewayAllocation;
import de.metaleg.api.v1alpha1.Role;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Pure: builds the EgressPlan status from a sync's outcome. A condition's lastTransitionTime only
 * moves when its status changes; messages and reasons may change without moving it.
 */
public final class StatusBuilder {
  /** What the loop knows after a sync attempt. */
  public record Outcome(
      long generation,
      Optional<DesiredState> programmed,
      List<String> problems,
      Optional<String> failure,
      String firewallBackend,
      String routeBackend,
      Instant syncTime,
      long syncMillis,
      String agentVersion) {}

  private StatusBuilder() {}

  public static EgressPlanStatus build(EgressPlanStatus previous, Outcome o) {
    EgressPlanStatus s = new EgressPlanStatus();
    List<Condition> old = previous == null ? List.of() : previous.getConditions();
    String now = o.syncTime().toString();
    s.setObservedGeneration(o.generation());
    List<Condition> conditions = new ArrayList<>();
    if (o.failure().isPresent()) {
      conditions.add(
          condition(
              old,
              EgressPlanStatus.CONDITION_READY,
              "False",
              "SyncFailed",
              "the kernel keeps the last programmed state; retrying with a full resync: "
                  + o.failure().get(),
              o.generation(),
              now));
    } else {
      conditions.add(
          condition(
              old,
              EgressPlanStatus.CONDITION_READY,
              "True",
              "Programmed",
              "spec of generation " + o.generation() + " is programmed",
              o.generation(),
              now));
    }
    if (o.problems().isEmpty()) {
      conditions.add(
          condition(
              old,
              EgressPlanStatus.CONDITION_DEGRADED,
              "False",
              "AllEntriesProgrammed",
              "",
              o.generation(),
              now));
    } else {
      conditions.add(
          condition(
              old,
              EgressPlanStatus.CONDITION_DEGRADED,
              "True",
              "EntriesNotProgrammedAsAsked",
              summarize(o.problems()),
              o.generation(),
              now));
    }
    s.setConditions(conditions);
    if (o.programmed().isPresent()) {
      DesiredState st = o.programmed().get();
      s.setGatewayEntries(st.counts().getOrDefault(Role.Gateway, 0));
      s.setForwardEntries(st.counts().getOrDefault(Role.Forward, 0));
      s.setRejectEntries(st.counts().getOrDefault(Role.Reject, 0));
      List<GatewayAllocation> gws = new ArrayList<>();
      st.gateways()
          .forEach(
              g -> gws.add(new GatewayAllocation(g.node(), MarkSpace.hex(g.mark()), g.table())));
      s.setGateways(gws);
    } else if (previous != null) {
      s.setGatewayEntries(previous.getGatewayEntries());
      s.setForwardEntries(previous.getForwardEntries());
      s.setRejectEntries(previous.getRejectEntries());
      s.setGateways(previous.getGateways());
    }
    s.setFirewallBackend(o.firewallBackend());
    s.setRouteBackend(o.routeBackend());
    s.setLastSyncTime(now);
    s.setLastSyncDurationMillis(o.syncMillis());
    s.setAgentVersion(o.agentVersion());
    return s;
  }

  /** At most {@link #MAX_LISTED} problems, then "... and N more", so the status stays small. */
  public static String summarize(List<String> problems) {
    int n = Math.min(problems.size(), MAX_LISTED);
    StringBuilder b = new StringBuilder(String.join("\n", problems.subList(0, n)));
    if (problems.size() > n) {
      b.append("\n... and ").append(problems.size() - n).append(" more");
    }
    return b.toString();
  }

  public static final int MAX_LISTED = 20;

  /** True when the two differ only in lastSyncTime and lastSyncDurationMillis. */
  public static boolean sameExceptSyncTime(EgressPlanStatus a, EgressPlanStatus b) {
    if (a == null || b == null) {
      return a == b;
    }
    return Objects.equals(withoutTime(a), withoutTime(b));
  }

  private static EgressPlanStatus withoutTime(EgressPlanStatus s) {
    EgressPlanStatus c = new EgressPlanStatus();
    c.setObservedGeneration(s.getObservedGeneration());
    c.setConditions(s.getConditions());
    c.setGatewayEntries(s.getGatewayEntries());
    c.setForwardEntries(s.getForwardEntries());
    c.setRejectEntries(s.getRejectEntries());
    c.setFirewallBackend(s.getFirewallBackend());
    c.setRouteBackend(s.getRouteBackend());
    c.setGateways(s.getGateways());
    c.setAgentVersion(s.getAgentVersion());
    return c;
  }

  private static Condition condition(
      List<Condition> old,
      String type,
      String status,
      String reason,
      String message,
      long generation,
      String now) {
    String since =
        old.stream()
            .filter(
                c ->
                    type.equals(c.getType())
                        && status.equals(c.getStatus())
                        && c.getLastTransitionTime() != null)
            .map(Condition::getLastTransitionTime)
            .findFirst()
            .orElse(now);
    return new ConditionBuilder()
        .withType(type)
        .withStatus(status)
        .withReason(reason)
        .withMessage(message)
        .withObservedGeneration(generation)
        .withLastTransitionTime(since)
        .build();
  }
}
