package de.metaleg.controller.plan;

import de.metaleg.api.v1alpha1.EgressPlanSpec;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The controller's inputs plus the per-Service resolution, maintained incrementally so that a
 * change to one Service re-resolves only that Service (and Services sharing a pod IP with it) and
 * names exactly the nodes whose plan may change: the Service's old and new endpoint nodes and old
 * and new gateway. A Node change (rare) re-resolves everything. Built from the same pure pieces as
 * {@link EgressPlanner#plan}, which the tests use as the reference. Not thread-safe by itself:
 * every method is synchronized.
 */
public final class PlanningState {
  public static final String GATEWAY_CHANGED = "EgressGatewayChanged";
  public static final String NO_GATEWAY = "NoEgressGateway";

  /** Nodes whose plan may have changed, and Events to emit (new findings only). */
  public record Update(Set<String> nodes, List<Finding> findings) {
    public static final Update NONE = new Update(Set.of(), List.of());
  }

  private final PlannerConfig config;
  private final Map<String, NodeInfo> nodes = new HashMap<>();
  private final Map<ServiceKey, ServiceInput> services = new HashMap<>();
  private final Map<ServiceKey, Map<String, List<EndpointInput>>> slices = new HashMap<>();
  private final Map<String, AnnouncerInfo> announcers = new HashMap<>();
  private final Map<ServiceKey, Set<String>> announcersByService = new HashMap<>();

  private Map<IpAddr, String> nodeAddresses = Map.of();
  private final Map<ServiceKey, ResolvedService> resolved = new HashMap<>();
  private final Map<IpAddr, TreeSet<ServiceKey>> claims = new HashMap<>();
  private final Map<ServiceKey, ResolvedService> effective = new HashMap<>();
  private final Map<String, TreeSet<ServiceKey>> byNode = new HashMap<>();
  private final TreeSet<ServiceKey> everywhere = new TreeSet<>();
  private boolean reportGatewayChanges;

  public PlanningState(PlannerConfig config) {
    this.config = config;
  }

  public PlannerConfig config() {
    return config;
  }

  /**
   * Replaces all inputs (startup and periodic resync) and re-resolves everything. Gateway-change
   * Events start after the first call, so a restart does not repeat the history.
   */
  public synchronized Update replaceAll(
      Collection<NodeInfo> allNodes,
      Collection<ServiceInput> allServices,
      Map<ServiceKey, Map<String, List<EndpointInput>>> slicesByService,
      Collection<AnnouncerInfo> allAnnouncers) {
    nodes.clear();
    allNodes.forEach(n -> nodes.put(n.name(), n));
    services.clear();
    allServices.stream().filter(ServiceInput::labelled).forEach(s -> services.put(s.key(), s));
    slices.clear();
    slicesByService.forEach(
        (k, bySlice) -> {
          Map<String, List<EndpointInput>> copy = new HashMap<>();
          bySlice.forEach((name, eps) -> copy.put(name, List.copyOf(eps)));
          slices.put(k, copy);
        });
    announcers.clear();
    announcersByService.clear();
    allAnnouncers.forEach(this::indexAnnouncer);
    Update u = rebuild();
    reportGatewayChanges = true;
    return u;
  }

  public synchronized Update putService(ServiceInput s) {
    if (!s.labelled()) {
      return removeService(s.key());
    }
    if (s.equals(services.put(s.key(), s))) {
      return Update.NONE;
    }
    return refresh(Set.of(s.key()));
  }

  public synchronized Update removeService(ServiceKey key) {
    return services.remove(key) == null ? Update.NONE : refresh(Set.of(key));
  }

  /** One EndpointSlice's addresses; {@code slice} names the slice within the Service. */
  public synchronized Update putSlice(ServiceKey key, String slice, List<EndpointInput> endpoints) {
    List<EndpointInput> copy = List.copyOf(endpoints);
    Map<String, List<EndpointInput>> all = slices.computeIfAbsent(key, k -> new HashMap<>());
    if (copy.equals(all.put(slice, copy))) {
      return Update.NONE;
    }
    return services.containsKey(key) ? refresh(Set.of(key)) : Update.NONE;
  }

  public synchronized Update removeSlice(ServiceKey key, String slice) {
    Map<String, List<EndpointInput>> all = slices.get(key);
    if (all == null || all.remove(slice) == null) {
      return Update.NONE;
    }
    if (all.isEmpty()) {
      slices.remove(key);
    }
    return services.containsKey(key) ? refresh(Set.of(key)) : Update.NONE;
  }

  public synchronized Update putAnnouncer(AnnouncerInfo a) {
    AnnouncerInfo old = announcers.get(a.id());
    if (a.equals(old)) {
      return Update.NONE;
    }
    Set<ServiceKey> keys = new HashSet<>();
    if (old != null) {
      unindexAnnouncer(old).ifPresent(keys::add);
    }
    indexAnnouncer(a).ifPresent(keys::add);
    return refresh(keys);
  }

  public synchronized Update removeAnnouncer(String id) {
    AnnouncerInfo old = announcers.get(id);
    if (old == null) {
      return Update.NONE;
    }
    Set<ServiceKey> keys = new HashSet<>();
    unindexAnnouncer(old).ifPresent(keys::add);
    return refresh(keys);
  }

  public synchronized Update putNode(NodeInfo n) {
    if (n.equals(nodes.put(n.name(), n))) {
      return Update.NONE;
    }
    return rebuild();
  }

  public synchronized Update removeNode(String name) {
    return nodes.remove(name) == null ? Update.NONE : rebuild();
  }

  /** The desired plan of {@code node}, or empty when it is not a known node. */
  public synchronized Optional<EgressPlanSpec> plan(String node) {
    if (!nodes.containsKey(node)) {
      return Optional.empty();
    }
    Collection<ServiceKey> keys =
        config.filterEndpointsForNode() ? byNode.getOrDefault(node, new TreeSet<>()) : everywhere;
    List<ResolvedService> relevant = new ArrayList<>(keys.size());
    keys.forEach(k -> relevant.add(effective.get(k)));
    return Optional.of(EgressPlanner.planNode(node, relevant, nodes, config));
  }

  public synchronized Set<String> nodeNames() {
    return Set.copyOf(nodes.keySet());
  }

  public synchronized boolean hasNode(String name) {
    return nodes.containsKey(name);
  }

  /** The resolved labelled Services (for metrics). */
  public synchronized List<ResolvedService> services() {
    return List.copyOf(effective.values());
  }

  /** The nodes, keyed by name (for metrics: a gateway's InternalIPs decide Forward or Reject). */
  public synchronized Map<String, NodeInfo> nodes() {
    return Map.copyOf(nodes);
  }

  /** The inputs as a snapshot: what {@link EgressPlanner#plan} would be given. */
  public synchronized Snapshot snapshot() {
    Map<ServiceKey, List<EndpointInput>> eps = new HashMap<>();
    slices.forEach((k, bySlice) -> eps.put(k, endpoints(k)));
    return new Snapshot(
        config, nodes, List.copyOf(services.values()), eps, List.copyOf(announcers.values()));
  }

  // ---- incremental core ----

  private Update refresh(Set<ServiceKey> keys) {
    TreeSet<ServiceKey> touched = new TreeSet<>(keys);
    for (ServiceKey k : keys) {
      List<IpAddr> ips = new ArrayList<>();
      ResolvedService old = resolved.remove(k);
      if (old != null) {
        Ownership.removeClaims(old, claims);
        ips.addAll(Ownership.claimedIps(old));
      }
      ServiceInput svc = services.get(k);
      if (svc != null) {
        ResolvedService r =
            ServiceResolver.resolve(svc, endpoints(k), announcersOf(k), nodeAddresses);
        resolved.put(k, r);
        Ownership.addClaims(r, claims);
        ips.addAll(Ownership.claimedIps(r));
      }
      touched.addAll(Ownership.claimants(ips, claims));
    }
    Set<String> changedNodes = new TreeSet<>();
    List<Finding> findings = new ArrayList<>();
    for (ServiceKey k : touched) {
      ResolvedService r = resolved.get(k);
      ResolvedService now = r == null ? null : Ownership.effective(r, claims, resolved);
      ResolvedService before = effective.get(k);
      if (Objects.equals(before, now)) {
        continue;
      }
      changedNodes.addAll(unindex(before));
      changedNodes.addAll(index(now));
      findings.addAll(news(before, now));
    }
    changedNodes.retainAll(nodes.keySet());
    return new Update(changedNodes, findings);
  }

  private Update rebuild() {
    nodeAddresses = EgressPlanner.nodeAddresses(nodes.values());
    Map<ServiceKey, ResolvedService> before = new TreeMap<>(effective);
    resolved.clear();
    claims.clear();
    effective.clear();
    byNode.clear();
    everywhere.clear();
    for (ServiceInput svc : services.values()) {
      ResolvedService r =
          ServiceResolver.resolve(
              svc, endpoints(svc.key()), announcersOf(svc.key()), nodeAddresses);
      resolved.put(svc.key(), r);
      Ownership.addClaims(r, claims);
    }
    resolved.values().forEach(r -> index(Ownership.effective(r, claims, resolved)));
    List<Finding> findings = new ArrayList<>();
    Set<ServiceKey> keys = new TreeSet<>(before.keySet());
    keys.addAll(effective.keySet());
    keys.forEach(k -> findings.addAll(news(before.get(k), effective.get(k))));
    return new Update(Set.copyOf(nodes.keySet()), findings);
  }

  /** Stores {@code s} and returns the nodes it concerns. */
  private Set<String> index(ResolvedService s) {
    if (s == null) {
      return Set.of();
    }
    effective.put(s.key(), s);
    if (!s.hasRules()) {
      return Set.of();
    }
    if (!config.filterEndpointsForNode()) {
      everywhere.add(s.key());
      return nodes.keySet();
    }
    Set<String> fp = EgressPlanner.footprint(s);
    fp.forEach(n -> byNode.computeIfAbsent(n, x -> new TreeSet<>()).add(s.key()));
    return fp;
  }

  private Set<String> unindex(ResolvedService s) {
    if (s == null) {
      return Set.of();
    }
    effective.remove(s.key());
    if (!config.filterEndpointsForNode()) {
      return everywhere.remove(s.key()) ? Set.copyOf(nodes.keySet()) : Set.of();
    }
    Set<String> fp = EgressPlanner.footprint(s);
    for (String n : fp) {
      TreeSet<ServiceKey> keys = byNode.get(n);
      if (keys != null && keys.remove(s.key()) && keys.isEmpty()) {
        byNode.remove(n);
      }
    }
    return fp;
  }

  /** Findings of {@code now} that {@code before} did not have, plus a gateway change. */
  private List<Finding> news(ResolvedService before, ResolvedService now) {
    if (now == null) {
      return List.of();
    }
    List<Finding> out = new ArrayList<>();
    Set<Finding> old = before == null ? Set.of() : new HashSet<>(before.findings());
    now.findings().stream().filter(f -> !old.contains(f)).forEach(out::add);
    Optional<String> gwBefore =
        before == null || !before.usable() ? Optional.empty() : before.gatewayNode();
    if (reportGatewayChanges && now.usable() && !gwBefore.equals(now.gatewayNode())) {
      if (now.gatewayNode().isPresent()) {
        out.add(
            Finding.normal(
                now.key(),
                GATEWAY_CHANGED,
                "egress for " + now.lbIPsText() + " now leaves via " + now.gatewayNode().get()));
      } else {
        out.add(
            Finding.warning(
                now.key(),
                NO_GATEWAY,
                "no node announces "
                    + now.lbIPsText()
                    + " any more: egress of this Service's pods is rejected until MetalLB"
                    + " announces it again"));
      }
    }
    return out;
  }

  private List<EndpointInput> endpoints(ServiceKey key) {
    Map<String, List<EndpointInput>> bySlice = slices.get(key);
    if (bySlice == null) {
      return List.of();
    }
    if (bySlice.size() == 1) {
      return bySlice.values().iterator().next();
    }
    List<EndpointInput> all = new ArrayList<>();
    new TreeMap<>(bySlice).values().forEach(all::addAll);
    return all;
  }

  private List<AnnouncerInfo> announcersOf(ServiceKey key) {
    Set<String> ids = announcersByService.get(key);
    if (ids == null) {
      return List.of();
    }
    List<AnnouncerInfo> out = new ArrayList<>(ids.size());
    ids.forEach(id -> out.add(announcers.get(id)));
    return out;
  }

  private Optional<ServiceKey> indexAnnouncer(AnnouncerInfo a) {
    announcers.put(a.id(), a);
    Optional<ServiceKey> key = a.service(config.metallbNamespace());
    key.ifPresent(k -> announcersByService.computeIfAbsent(k, x -> new TreeSet<>()).add(a.id()));
    return key;
  }

  private Optional<ServiceKey> unindexAnnouncer(AnnouncerInfo a) {
    announcers.remove(a.id());
    Optional<ServiceKey> key = a.service(config.metallbNamespace());
    key.ifPresent(
        k -> {
          Set<String> ids = announcersByService.get(k);
          if (ids != null && ids.remove(a.id()) && ids.isEmpty()) {
            announcersByService.remove(k);
          }
        });
    return key;
  }
}
