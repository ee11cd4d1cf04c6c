package de.metaleg.controller.plan;

import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.common.net.Family;
import de.metaleg.common.net.IpAddress;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
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
 *
 * <p>It also keeps the {@link GatewayMemory}: a Service whose announcer disappeared keeps its last
 * gateway for the grace period. Every change first expires the bridged gateways that are due, and
 * {@link #expire} does that alone (the caller schedules it at {@link #timeToNextExpiry}), so the
 * state always equals the pure planner run at the time of the last call.
 */
public final class PlanningState {
  public static final String GATEWAY_CHANGED = "EgressGatewayChanged";
  public static final String NO_GATEWAY = "NoEgressGateway";

  /**
   * A resolved Service with the decision every node but its gateway gets, one per family it has an
   * LB IP for (IPv4 first): what its Forward or Reject entries say. Empty when it is unusable.
   */
  public record PlannedService(ResolvedService service, List<Decision> elsewhere) {
    public PlannedService {
      elsewhere = List.copyOf(elsewhere);
    }
  }

  /** Nodes whose plan may have changed, and Events to emit (new findings only). */
  public record Update(Set<String> nodes, List<Finding> findings) {
    public static final Update NONE = new Update(Set.of(), List.of());
  }

  private final PlannerConfig config;
  private final InstantSource clock;
  private final Map<String, NodeInfo> nodes = new HashMap<>();
  private final Map<ServiceKey, ServiceInput> services = new HashMap<>();
  private final Map<ServiceKey, Map<String, List<EndpointInput>>> slices = new HashMap<>();
  private final Map<String, AnnouncerInfo> announcers = new HashMap<>();
  private final Map<ServiceKey, Set<String>> announcersByService = new HashMap<>();

  private Map<IpAddress, String> nodeAddresses = Map.of();
  private final Map<ServiceKey, ResolvedService> resolved = new HashMap<>();
  private final Map<IpAddress, TreeSet<ServiceKey>> claims = new HashMap<>();
  private final Map<ServiceKey, ResolvedService> effective = new HashMap<>();
  private final Map<ServiceKey, List<Decision>> elsewhere = new HashMap<>();
  private final Map<String, TreeSet<ServiceKey>> byNode = new HashMap<>();
  private final TreeSet<ServiceKey> everywhere = new TreeSet<>();
  private boolean reportGatewayChanges;

  private final Map<ServiceKey, GatewayMemory.Entry> gateways = new HashMap<>();
  private long gatewayKeysChanged; // counts Services entering or leaving the gateway memory
  private final Map<ServiceKey, Instant> heldUntil = new HashMap<>();
  private final TreeSet<Hold> holds = new TreeSet<>();
  private Instant now = Instant.EPOCH;

  /** A remembered gateway that stops counting at {@code until}. */
  private record Hold(Instant until, ServiceKey key) implements Comparable<Hold> {
    @Override
    public int compareTo(Hold o) {
      int c = until.compareTo(o.until);
      return c != 0 ? c : key.compareTo(o.key);
    }
  }

  public PlanningState(PlannerConfig config) {
    this(config, InstantSource.system());
  }

  public PlanningState(PlannerConfig config, InstantSource clock) {
    this.config = config;
    this.clock = clock;
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
    now = later(now, clock.instant()); // rebuild() also ends the bridges that are due
    Update u = rebuild(); // keeps the gateway memory: a resync inside a grace does not end it
    reportGatewayChanges = true;
    return u;
  }

  /** Ends the bridged gateways whose grace has run out; the caller schedules this. */
  public synchronized Update expire() {
    return tick();
  }

  /** How long until {@link #expire} has something to do; empty when nothing is bridged. */
  public synchronized Optional<Duration> timeToNextExpiry() {
    if (holds.isEmpty()) {
      return Optional.empty();
    }
    Duration d = Duration.between(clock.instant(), holds.first().until());
    return Optional.of(d.isNegative() ? Duration.ZERO : d);
  }

  public synchronized Update putService(ServiceInput s) {
    Update expired = tick();
    if (!s.labelled()) {
      return merge(expired, removeService(s.key()));
    }
    if (s.equals(services.put(s.key(), s))) {
      return expired;
    }
    return merge(expired, refresh(Set.of(s.key())));
  }

  public synchronized Update removeService(ServiceKey key) {
    Update expired = tick();
    return services.remove(key) == null ? expired : merge(expired, refresh(Set.of(key)));
  }

  /** One EndpointSlice's addresses; {@code slice} names the slice within the Service. */
  public synchronized Update putSlice(ServiceKey key, String slice, List<EndpointInput> endpoints) {
    Update expired = tick();
    List<EndpointInput> copy = List.copyOf(endpoints);
    Map<String, List<EndpointInput>> all = slices.computeIfAbsent(key, k -> new HashMap<>());
    if (copy.equals(all.put(slice, copy))) {
      return expired;
    }
    return services.containsKey(key) ? merge(expired, refresh(Set.of(key))) : expired;
  }

  public synchronized Update removeSlice(ServiceKey key, String slice) {
    Update expired = tick();
    Map<String, List<EndpointInput>> all = slices.get(key);
    if (all == null || all.remove(slice) == null) {
      return expired;
    }
    if (all.isEmpty()) {
      slices.remove(key);
    }
    return services.containsKey(key) ? merge(expired, refresh(Set.of(key))) : expired;
  }

  public synchronized Update putAnnouncer(AnnouncerInfo a) {
    Update expired = tick();
    AnnouncerInfo old = announcers.get(a.id());
    if (a.equals(old)) {
      return expired;
    }
    Set<ServiceKey> keys = new HashSet<>();
    if (old != null) {
      unindexAnnouncer(old).ifPresent(keys::add);
    }
    indexAnnouncer(a).ifPresent(keys::add);
    return merge(expired, refresh(keys));
  }

  public synchronized Update removeAnnouncer(String id) {
    Update expired = tick();
    AnnouncerInfo old = announcers.get(id);
    if (old == null) {
      return expired;
    }
    Set<ServiceKey> keys = new HashSet<>();
    unindexAnnouncer(old).ifPresent(keys::add);
    return merge(expired, refresh(keys));
  }

  public synchronized Update putNode(NodeInfo n) {
    Update expired = tick();
    if (n.equals(nodes.put(n.name(), n))) {
      return expired;
    }
    return merge(expired, rebuild());
  }

  public synchronized Update removeNode(String name) {
    Update expired = tick();
    return nodes.remove(name) == null ? expired : merge(expired, rebuild());
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

  /** The resolved labelled Services. */
  public synchronized List<ResolvedService> services() {
    return List.copyOf(effective.values());
  }

  /** The resolved labelled Services with the decisions planned for them (for metrics). */
  public synchronized List<PlannedService> plannedServices() {
    return effective.values().stream()
        .map(s -> new PlannedService(s, elsewhere.getOrDefault(s.key(), List.of())))
        .toList();
  }

  /** The inputs as a snapshot: what {@link EgressPlanner#plan} would be given. */
  public synchronized Snapshot snapshot() {
    Map<ServiceKey, List<EndpointInput>> eps = new HashMap<>();
    slices.forEach((k, bySlice) -> eps.put(k, endpoints(k)));
    return new Snapshot(
        config,
        nodes,
        List.copyOf(services.values()),
        eps,
        List.copyOf(announcers.values()),
        new GatewayMemory(gateways),
        now);
  }

  /** Usable Services that no ServiceL2Status names a node for right now, bridged or not. */
  public synchronized int servicesWithoutAnnouncer() {
    return (int) gateways.values().stream().filter(e -> e.missingSince().isPresent()).count();
  }

  /**
   * Advances whenever a Service enters or leaves {@link #gatewayServices}: callers compare it
   * instead of copying that set (10,000 keys) on every event.
   */
  public synchronized long gatewayServicesVersion() {
    return gatewayKeysChanged;
  }

  /** The usable labelled Services the gateway memory tracks (for per-Service metrics). */
  public synchronized Set<ServiceKey> gatewayServices() {
    return Set.copyOf(gateways.keySet());
  }

  /** Seconds {@code key} has spent without an announcer so far (0 when it is not tracked). */
  public synchronized double secondsWithoutAnnouncer(ServiceKey key) {
    GatewayMemory.Entry e = gateways.get(key);
    Instant t = later(now, clock.instant());
    return e == null ? 0 : e.missing(t).toNanos() / 1e9;
  }

  /** How often the announced node of {@code key} moved to another node. */
  public synchronized long gatewayMoves(ServiceKey key) {
    GatewayMemory.Entry e = gateways.get(key);
    return e == null ? 0 : e.moves();
  }

  // ---- incremental core ----

  private Update refresh(Set<ServiceKey> keys) {
    TreeSet<ServiceKey> touched = new TreeSet<>(keys);
    Map<ServiceKey, String> movedFrom = new HashMap<>();
    for (ServiceKey k : keys) {
      List<IpAddress> ips = new ArrayList<>();
      ResolvedService old = resolved.remove(k);
      if (old != null) {
        Ownership.removeClaims(old, claims);
        ips.addAll(Ownership.claimedIps(old));
      }
      ServiceInput svc = services.get(k);
      if (svc == null) {
        remember(k, null);
      } else {
        ResolvedService r =
            withRememberedGateway(
                ServiceResolver.resolve(svc, endpoints(k), announcersOf(k), nodeAddresses),
                movedFrom);
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
      findings.addAll(news(before, now, movedFrom.get(k)));
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
    elsewhere.clear();
    byNode.clear();
    everywhere.clear();
    Map<ServiceKey, String> movedFrom = new HashMap<>();
    Set<ServiceKey> forgotten = new HashSet<>(gateways.keySet());
    forgotten.removeAll(services.keySet());
    forgotten.forEach(k -> remember(k, null));
    for (ServiceInput svc : services.values()) {
      ResolvedService r =
          withRememberedGateway(
              ServiceResolver.resolve(
                  svc, endpoints(svc.key()), announcersOf(svc.key()), nodeAddresses),
              movedFrom);
      resolved.put(svc.key(), r);
      Ownership.addClaims(r, claims);
    }
    resolved.values().forEach(r -> index(Ownership.effective(r, claims, resolved)));
    List<Finding> findings = new ArrayList<>();
    Set<ServiceKey> keys = new TreeSet<>(before.keySet());
    keys.addAll(effective.keySet());
    keys.forEach(k -> findings.addAll(news(before.get(k), effective.get(k), movedFrom.get(k))));
    return new Update(Set.copyOf(nodes.keySet()), findings);
  }

  // ---- gateway memory ----

  /**
   * Steps the memory of {@code r}'s Service with its announced node and returns it planned with the
   * gateway to use (the announced one, or the remembered one while the grace lasts). Records a move
   * from one node to another in {@code movedFrom}.
   */
  private ResolvedService withRememberedGateway(
      ResolvedService r, Map<ServiceKey, String> movedFrom) {
    if (!r.usable()) {
      remember(r.key(), null);
      return r;
    }
    GatewayMemory.Entry before = gateways.get(r.key());
    GatewayMemory.Entry after = GatewayMemory.advance(before, r.gatewayNode(), now);
    if (before != null && after.moves() > before.moves()) {
      movedFrom.put(r.key(), before.lastNode().orElseThrow());
    }
    remember(r.key(), after);
    return r.withGateway(after.gateway(now, config.gatewayGracePeriod()));
  }

  /** Stores (or, with null, forgets) an entry and keeps the expiry order in step. */
  private void remember(ServiceKey key, GatewayMemory.Entry e) {
    Instant oldUntil = heldUntil.remove(key);
    if (oldUntil != null) {
      holds.remove(new Hold(oldUntil, key));
    }
    if (e == null) {
      if (gateways.remove(key) != null) {
        gatewayKeysChanged++;
      }
      return;
    }
    if (gateways.put(key, e) == null) {
      gatewayKeysChanged++;
    }
    e.heldUntil(config.gatewayGracePeriod())
        .filter(now::isBefore)
        .ifPresent(
            until -> {
              heldUntil.put(key, until);
              holds.add(new Hold(until, key));
            });
  }

  /** Advances the clock and re-resolves the Services whose bridged gateway ran out. */
  private Update tick() {
    now = later(now, clock.instant());
    Set<ServiceKey> due = new HashSet<>();
    while (!holds.isEmpty() && !holds.first().until().isAfter(now)) {
      Hold h = holds.pollFirst();
      heldUntil.remove(h.key());
      due.add(h.key());
    }
    return due.isEmpty() ? Update.NONE : refresh(due);
  }

  private static Instant later(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }

  private static Update merge(Update a, Update b) {
    if (a.nodes().isEmpty() && a.findings().isEmpty()) {
      return b;
    }
    if (b.nodes().isEmpty() && b.findings().isEmpty()) {
      return a;
    }
    Set<String> n = new TreeSet<>(a.nodes());
    n.addAll(b.nodes());
    List<Finding> f = new ArrayList<>(a.findings());
    f.addAll(b.findings());
    return new Update(n, f);
  }

  /** Stores {@code s} and returns the nodes it concerns. */
  private Set<String> index(ResolvedService s) {
    if (s == null) {
      return Set.of();
    }
    effective.put(s.key(), s);
    List<Decision> d = new ArrayList<>(2);
    for (Family f : Family.values()) {
      if (s.usable() && s.lbIP(f).isPresent()) {
        d.add(EgressPlanner.decideElsewhere(s, f, nodes));
      }
    }
    elsewhere.put(s.key(), d);
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
    elsewhere.remove(s.key());
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

  /**
   * Findings of {@code now} that {@code before} did not have, plus a gateway change ({@code
   * movedFrom}: the node the announcer moved away from, possibly across a bridged gap).
   */
  private List<Finding> news(ResolvedService before, ResolvedService now, String movedFrom) {
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
        String to = now.gatewayNode().get();
        out.add(
            Finding.normal(
                now.key(),
                GATEWAY_CHANGED,
                movedFrom != null
                    ? "egress for " + now.key() + " moved from " + movedFrom + " to " + to
                    : "egress for " + now.key() + " now leaves via " + to));
      } else {
        Duration grace = config.gatewayGracePeriod();
        out.add(
            Finding.warning(
                now.key(),
                NO_GATEWAY,
                (grace.isZero()
                        ? "no node announces " + now.lbIPsText() + " any more"
                        : "no node has announced "
                            + now.lbIPsText()
                            + " for "
                            + text(grace)
                            + " (GATEWAY_GRACE_PERIOD)")
                    + ": egress of this Service's pods is rejected until MetalLB"
                    + " announces it again"));
      }
    }
    return out;
  }

  private static String text(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
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
