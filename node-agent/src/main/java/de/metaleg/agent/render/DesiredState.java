package de.metaleg.agent.render;

import de.metaleg.agent.render.Rules.MarkRule;
import de.metaleg.agent.render.Rules.PolicyRule;
import de.metaleg.agent.render.Rules.RejectRule;
import de.metaleg.agent.render.Rules.RouteSpec;
import de.metaleg.agent.render.Rules.SnatRule;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.util.List;
import java.util.Map;

/**
 * Everything MetalEG wants in the kernel of one node, backend neutral. {@code problems} lists what
 * could not be programmed as asked (each naming the entry); {@code counts} are the entries
 * programmed per effective role; {@code uplinks} the interfaces of the transit guard.
 */
public record DesiredState(
    List<IpSetSpec> sets,
    List<MarkRule> marks,
    List<SnatRule> snats,
    List<RejectRule> rejects,
    List<RouteSpec> routes,
    List<PolicyRule> policyRules,
    List<GatewayAssignment> gateways,
    List<String> problems,
    Map<Role, Integer> counts,
    List<String> uplinks) {
  public DesiredState {
    uplinks = List.copyOf(uplinks);
    sets = List.copyOf(sets);
    marks = List.copyOf(marks);
    snats = List.copyOf(snats);
    rejects = List.copyOf(rejects);
    routes = List.copyOf(routes);
    policyRules = List.copyOf(policyRules);
    gateways = List.copyOf(gateways);
    problems = List.copyOf(problems);
    counts = Map.copyOf(counts);
  }

  public List<IpSetSpec> sets(Family f) {
    return sets.stream().filter(s -> s.family() == f).toList();
  }

  public List<RouteSpec> routes(Family f) {
    return routes.stream().filter(r -> r.family() == f).toList();
  }

  public List<PolicyRule> policyRules(Family f) {
    return policyRules.stream().filter(r -> r.family() == f).toList();
  }
}
