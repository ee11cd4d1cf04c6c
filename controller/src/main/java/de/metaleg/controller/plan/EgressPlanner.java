package de.metaleg.controller.plan;

import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.Reasons;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import de.metaleg.common.net.IpAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Turns a {@link Snapshot} into one {@link EgressPlanSpec} per node. Pure: equal snapshots give
 * equal (and equally ordered) plans.
 *
 * <p>Rules, per labelled Service and address family the Service has an LB IP for: the announcing
 * node gets {@code Gateway} with all endpoints; every other node with endpoints of that family gets
 * {@code Forward} to the gateway's InternalIP, or {@code Reject} when there is no announcer (and
 * the {@link GatewayMemory} bridges none), the announcer is not a known node, or it has no
 * InternalIP of the family. With {@code filterEndpointsForNode=false} every node gets every
 * endpoint.
 */
public final class EgressPlanner {
  private EgressPlanner() {}

  /**
   * Plans for every node, the resolved Services, everything worth an Event, and the gateway memory
   * to pass to the next planning (with when it must run at the latest: a bridged gateway expires).
   */
  public record PlanResult(
      Map<String, EgressPlanSpec> plans,
      Map<ServiceKey, ResolvedService> services,
      List<Finding> findings,
      GatewayMemory gateways,
      Optional<Instant> nextExpiry) {}

  /**
   * Plans every node from scratch. No production code calls this: the controller keeps an
   * incremental {@link PlanningState}, built from the same pieces ({@link ServiceResolver}, {@link
   * #footprint}, {@link #planNode}), which re-plans only what a change touches. This is the
   * reference the tests hold that state to ({@code PlanningStateTest} compares both after random
   * changes) and what the planner tables and benchmarks run.
   */
  public static PlanResult plan(Snapshot snap) {
    Resolution resolution = resolveAll(snap);
    Map<ServiceKey, ResolvedService> services = resolution.services();
    Map<String, List<ResolvedService>> byNode = new HashMap<>();
    List<ResolvedService> everywhere = new ArrayList<>();
    List<Finding> findings = new ArrayList<>();
    for (ResolvedService s : services.values()) { // key order
      findings.addAll(s.findings());
      if (!s.hasRules()) {
        continue;
      }
      if (!snap.config().filterEndpointsForNode()) {
        everywhere.add(s);
        continue;
      }
      for (String node : footprint(s)) {
        if (snap.nodes().containsKey(node)) {
          byNode.computeIfAbsent(node, n -> new ArrayList<>()).add(s);
        }
      }
    }
    Map<String, EgressPlanSpec> plans = new TreeMap<>();
    for (String node : snap.nodes().keySet()) {
      List<ResolvedService> relevant =
          snap.config().filterEndpointsForNode()
              ? byNode.getOrDefault(node, List.of())
              : everywhere;
      plans.put(node, planNode(node, relevant, snap.nodes(), snap.config()));
    }
    return new PlanResult(
        plans,
        services,
        findings,
        resolution.gateways().memory(),
        resolution.gateways().nextExpiry());
  }

  /** The resolved Services and the gateway memory step that chose their gateways. */
  public record Resolution(
      Map<ServiceKey, ResolvedService> services, GatewayMemory.Step gateways) {}

  /**
   * Every labelled Service resolved, with remembered gateways filled in for missing announcers and
   * pod-ownership conflicts applied.
   */
  public static Resolution resolveAll(Snapshot snap) {
    Map<IpAddress, String> nodeAddresses = nodeAddresses(snap.nodes().values());
    Map<ServiceKey, List<AnnouncerInfo>> announcers = new HashMap<>();
    for (AnnouncerInfo a : snap.announcers()) {
      a.service(snap.config().metallbNamespace())
          .ifPresent(k -> announcers.computeIfAbsent(k, x -> new ArrayList<>()).add(a));
    }
    Map<ServiceKey, ResolvedService> resolved = new TreeMap<>();
    Map<IpAddress, TreeSet<ServiceKey>> claims = new HashMap<>();
    for (ServiceInput svc : snap.services()) {
      if (!svc.labelled()) {
        continue;
      }
      ResolvedService r =
          ServiceResolver.resolve(
              svc,
              snap.endpoints().getOrDefault(svc.key(), List.of()),
              announcers.getOrDefault(svc.key(), List.of()),
              nodeAddresses);
      resolved.put(svc.key(), r);
      Ownership.addClaims(r, claims);
    }
    Map<ServiceKey, Optional<String>> announced = new HashMap<>();
    resolved.forEach(
        (k, r) -> {
          if (r.usable()) {
            announced.put(k, r.gatewayNode());
          }
        });
    GatewayMemory.Step step =
        snap.gateways().step(announced, snap.now(), snap.config().gatewayGracePeriod());
    step.gateways().forEach((k, gw) -> resolved.put(k, resolved.get(k).withGateway(gw)));
    Map<ServiceKey, ResolvedService> effective = new TreeMap<>();
    resolved.forEach((k, r) -> effective.put(k, Ownership.effective(r, claims, resolved)));
    return new Resolution(effective, step);
  }

  public static Map<IpAddress, String> nodeAddresses(Collection<NodeInfo> nodes) {
    Map<IpAddress, String> out = new HashMap<>();
    for (NodeInfo n : nodes) {
      n.addresses().forEach(ip -> out.put(ip, n.name()));
    }
    return out;
  }

  /**
   * The nodes that can get an entry for {@code s} when endpoints are filtered per node: its
   * endpoints' nodes and its gateway. (Unfiltered, every node does.)
   */
  public static Set<String> footprint(ResolvedService s) {
    if (!s.hasRules()) {
      return Set.of();
    }
    Set<String> nodes = new LinkedHashSet<>();
    s.gatewayNode().ifPresent(nodes::add);
    for (Source src : s.sources()) {
      if (src.node() != null) {
        nodes.add(src.node());
      }
    }
    return nodes;
  }

  /** The plan of one node, from the Services that concern it (in key order). */
  public static EgressPlanSpec planNode(
      String node,
      Collection<ResolvedService> services,
      Map<String, NodeInfo> nodes,
      PlannerConfig config) {
    List<EgressEntry> entries = new ArrayList<>();
    for (ResolvedService s : services) {
      entries.addAll(entries(s, node, nodes, config.filterEndpointsForNode()));
    }
    return new EgressPlanSpec(node, entries);
  }

  /** The entries of one Service on one node: none, one, or two when the families differ. */
  public static List<EgressEntry> entries(
      ResolvedService s, String node, Map<String, NodeInfo> nodes, boolean filter) {
    if (!s.usable()) {
      return List.of();
    }
    boolean isGateway = s.gatewayNode().map(node::equals).orElse(false);
    List<String> v4 = new ArrayList<>();
    List<String> v6 = new ArrayList<>();
    for (Source src : s.sources()) { // sorted by address
      if (!filter || isGateway || node.equals(src.node())) {
        (src.ip().isV4() ? v4 : v6).add(src.ip().toString());
      }
    }
    Optional<Decision> d4 =
        s.lbIPv4().isPresent() && !v4.isEmpty()
            ? Optional.of(decide(s, Family.V4, node, nodes))
            : Optional.empty();
    Optional<Decision> d6 =
        s.lbIPv6().isPresent() && !v6.isEmpty()
            ? Optional.of(decide(s, Family.V6, node, nodes))
            : Optional.empty();
    if (d4.isPresent() && d6.isPresent() && d4.get().sameRole(d6.get())) {
      EgressEntry e = entry(s, d4.get());
      fill4(e, s, d4.get(), v4);
      fill6(e, s, d6.get(), v6);
      return List.of(e);
    }
    List<EgressEntry> out = new ArrayList<>(2);
    d4.ifPresent(d -> out.add(fill4(entry(s, d), s, d, v4)));
    d6.ifPresent(d -> out.add(fill6(entry(s, d), s, d, v6)));
    // Sorted by role, the IPv4 entry first on a tie (it was added first; the sort is stable).
    out.sort(java.util.Comparator.comparing(e -> Role.valueOf(e.getRole())));
    return out;
  }

  /** The role of {@code node} for one family of {@code s}, with the reason. */
  public static Decision decide(
      ResolvedService s, Family family, String node, Map<String, NodeInfo> nodes) {
    boolean isGateway = s.gatewayNode().filter(node::equals).isPresent() && nodes.containsKey(node);
    return isGateway
        ? new Decision(Role.Gateway, Reasons.ANNOUNCED_BY_THIS_NODE, node, null)
        : decideElsewhere(s, family, nodes);
  }

  /**
   * The role every node but the gateway gets for one family of {@code s}: Forward to the gateway's
   * InternalIP, or Reject and why.
   */
  public static Decision decideElsewhere(
      ResolvedService s, Family family, Map<String, NodeInfo> nodes) {
    if (s.gatewayNode().isEmpty()) {
      return new Decision(Role.Reject, Reasons.NO_ANNOUNCER, null, null);
    }
    String gw = s.gatewayNode().get();
    NodeInfo gateway = nodes.get(gw);
    if (gateway == null) {
      return new Decision(Role.Reject, Reasons.ANNOUNCER_NODE_UNKNOWN, gw, null);
    }
    Optional<IpAddress> ip = gateway.internalIP(family);
    if (ip.isEmpty()) {
      String reason =
          family == Family.V4
              ? Reasons.GATEWAY_HAS_NO_INTERNAL_IPV4
              : Reasons.GATEWAY_HAS_NO_INTERNAL_IPV6;
      return new Decision(Role.Reject, reason, gw, null);
    }
    return new Decision(Role.Forward, Reasons.ANNOUNCED_BY_OTHER_NODE, gw, ip.get());
  }

  private static EgressEntry entry(ResolvedService s, Decision d) {
    EgressEntry e = new EgressEntry();
    e.setService(s.key().toString());
    e.setRole(d.role().name());
    e.setReason(d.reason());
    e.setGatewayNode(d.gatewayNode());
    return e;
  }

  private static EgressEntry fill4(EgressEntry e, ResolvedService s, Decision d, List<String> ips) {
    e.setSnatIPv4(s.lbIPv4().get().toString());
    e.setSourceIPv4s(ips);
    if (d.gatewayIP() != null) {
      e.setGatewayIPv4(d.gatewayIP().toString());
    }
    return e;
  }

  private static EgressEntry fill6(EgressEntry e, ResolvedService s, Decision d, List<String> ips) {
    e.setSnatIPv6(s.lbIPv6().get().toString());
    e.setSourceIPv6s(ips);
    if (d.gatewayIP() != null) {
      e.setGatewayIPv6(d.gatewayIP().toString());
    }
    return e;
  }
}
