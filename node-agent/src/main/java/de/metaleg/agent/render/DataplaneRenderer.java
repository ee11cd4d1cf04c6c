package de.metaleg.agent.render;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.model.MarkSpace;
import de.metaleg.agent.render.Rules.MarkRule;
import de.metaleg.agent.render.Rules.PolicyRule;
import de.metaleg.agent.render.Rules.RejectRule;
import de.metaleg.agent.render.Rules.RouteSpec;
import de.metaleg.agent.render.Rules.SnatRule;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import de.metaleg.common.net.IpAddress;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Pure: validated plan + node facts + mark allocation → the kernel state MetalEG wants. Forward
 * entries whose gateway has no mark, or whose route could not be installed ({@code unroutable}),
 * are rendered as rejects, so their traffic never leaves with a pod or node address. Besides the
 * source sets it renders, per family, the exclude set, the set of every LB IP the plan names (for
 * the transition guards), the quarantine set and the set of recently switched (settling) sources.
 */
public final class DataplaneRenderer {
  private DataplaneRenderer() {}

  public static DesiredState render(
      DesiredPlan plan,
      NodeFacts facts,
      Map<String, Integer> allocation,
      Set<GatewayFamily> unroutable) {
    MarkSpace space = facts.marks();
    List<IpSetSpec> sets = new ArrayList<>();
    List<MarkRule> marks = new ArrayList<>();
    List<SnatRule> snats = new ArrayList<>();
    List<RejectRule> rejects = new ArrayList<>();
    Map<GatewayFamily, RouteSpec> routes = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    Map<Role, Set<String>> servicesByRole = new EnumMap<>(Role.class);
    Set<String> usedNodes = new HashSet<>();

    for (Family f : Family.values()) {
      sets.add(new IpSetSpec(Names.excludeSet(f), f, IpSetSpec.HASH_NET, facts.exclude(f)));
      List<String> lbs = new ArrayList<>();
      plan.entries().stream()
          .filter(e -> e.family() == f)
          .forEach(e -> e.snatIp().ifPresent(lbs::add));
      sets.add(new IpSetSpec(Names.lbSet(f), f, IpSetSpec.HASH_IP, lbs));
      sets.add(
          new IpSetSpec(
              Names.quarantineSet(f), f, IpSetSpec.HASH_IP, ofFamily(plan.quarantine(), f)));
      sets.add(
          new IpSetSpec(Names.settlingSet(f), f, IpSetSpec.HASH_IP, ofFamily(plan.settling(), f)));
      List<String> gatewaySources = new ArrayList<>();
      plan.entries().stream()
          .filter(e -> e.family() == f && e.role() == Role.Gateway)
          .forEach(e -> gatewaySources.addAll(e.sources()));
      sets.add(new IpSetSpec(Names.gatewaySet(f), f, IpSetSpec.HASH_IP, gatewaySources));
    }
    for (Entry e : plan.entries()) {
      String set = Names.sourceSet(e.service(), e.family());
      sets.add(new IpSetSpec(set, e.family(), IpSetSpec.HASH_IP, e.sources()));
      Role effective = e.role();
      switch (e.role()) {
        case Gateway ->
            snats.add(new SnatRule(e.family(), e.service(), set, e.snatIp().orElseThrow()));
        case Reject -> rejects.add(new RejectRule(e.family(), e.service(), set, e.reason()));
        case Forward -> {
          String node = e.gatewayNode().orElseThrow();
          String gw = e.gatewayIp().orElseThrow();
          GatewayFamily key = new GatewayFamily(node, e.family());
          Integer index = allocation.get(node);
          String why = null;
          if (index == null) {
            why = "no free firewall mark under the mask for gateway " + node;
          } else if (unroutable.contains(key)) {
            why = "route to gateway " + node + " via " + gw + " could not be installed";
          } else if (routes.containsKey(key) && !routes.get(key).gateway().equals(gw)) {
            why = "gateway " + node + " has two " + e.family().label() + " addresses in the plan";
          }
          if (why != null) {
            problems.add(
                "entry "
                    + e.service()
                    + " ("
                    + e.family().label()
                    + "): "
                    + why
                    + "; rejecting its traffic");
            rejects.add(new RejectRule(e.family(), e.service(), set, why));
            effective = Role.Reject;
          } else {
            marks.add(new MarkRule(e.family(), e.service(), set, space.mark(index), space.mask()));
            routes.putIfAbsent(key, new RouteSpec(e.family(), space.table(index), gw));
            usedNodes.add(node);
          }
        }
      }
      if (!Entry.DRAINING.equals(e.reason())) {
        servicesByRole.computeIfAbsent(effective, r -> new HashSet<>()).add(e.service());
      }
    }

    List<PolicyRule> policy = new ArrayList<>();
    for (RouteSpec r : routes.values()) {
      int index = space.indexOfTable(r.table());
      policy.add(
          new PolicyRule(
              r.family(), space.mark(index), space.mask(), r.table(), Names.RULE_PRIORITY));
    }
    List<GatewayAssignment> gateways = new ArrayList<>();
    new TreeMap<>(allocation)
        .forEach(
            (node, index) -> {
              if (usedNodes.contains(node)) {
                gateways.add(
                    new GatewayAssignment(node, index, space.mark(index), space.table(index)));
              }
            });
    Map<Role, Integer> counts = new HashMap<>();
    for (Role r : Role.values()) {
      counts.put(r, servicesByRole.getOrDefault(r, Set.of()).size());
    }
    return new DesiredState(
        sets,
        marks,
        snats,
        rejects,
        List.copyOf(routes.values()),
        policy,
        gateways,
        problems,
        counts,
        plan.uplinks());
  }

  /** The addresses of {@code family} among {@code ips} (the plan's sets hold both families). */
  private static List<String> ofFamily(Set<String> ips, Family family) {
    return ips.stream().filter(ip -> IpAddress.parse(family, ip).isPresent()).toList();
  }
}
