package de.metaleg.agent.render;

import de.metaleg.agent.model.MarkSpace;
import de.metaleg.agent.render.Rules.PolicyRule;
import de.metaleg.agent.render.Rules.RouteSpec;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Pure: {@code ip -batch} payloads (one family each). {@link #install} runs before the firewall
 * rules that set marks, {@link #removeStale} after the rules that used a mark are gone, so no
 * packet is ever marked for a table without a route.
 */
public final class RoutePayloads {
  private RoutePayloads() {}

  public static String install(
      List<RouteSpec> routes, List<PolicyRule> rules, ObservedRoutes current) {
    StringBuilder b = new StringBuilder();
    for (RouteSpec r : routes) {
      if (!r.gateway().equals(current.defaultGateways().get(r.table()))) {
        b.append(routeLine(r)).append('\n');
      }
    }
    for (PolicyRule r : rules) {
      if (!current.rules().contains(r)) {
        b.append("rule add ").append(ruleSpec(r)).append('\n');
      }
    }
    return b.toString();
  }

  public static String removeStale(
      List<RouteSpec> routes, List<PolicyRule> rules, ObservedRoutes current) {
    StringBuilder b = new StringBuilder();
    Set<PolicyRule> wantRules = new HashSet<>(rules);
    for (PolicyRule r : current.rules()) {
      if (!wantRules.contains(r)) {
        b.append("rule del ").append(ruleSpec(r)).append('\n');
      }
    }
    Set<Long> wantTables = new HashSet<>();
    routes.forEach(r -> wantTables.add(r.table()));
    for (long t : new TreeSet<>(current.tables())) {
      if (!wantTables.contains(t)) {
        b.append("route flush table ").append(t).append('\n');
      }
    }
    return b.toString();
  }

  public static String routeLine(RouteSpec r) {
    return "route replace default via " + r.gateway() + " table " + r.table();
  }

  public static String ruleSpec(PolicyRule r) {
    return "fwmark "
        + MarkSpace.hex(r.mark())
        + "/"
        + MarkSpace.hex(r.mask())
        + " table "
        + r.table()
        + " priority "
        + r.priority();
  }
}
