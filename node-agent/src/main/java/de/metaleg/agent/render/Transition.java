package de.metaleg.agent.render;

import de.metaleg.agent.model.Cidr;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.Rules.MarkRule;
import de.metaleg.agent.render.Rules.RejectRule;
import de.metaleg.agent.render.Rules.SnatRule;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Pure: the transition protocol's decisions. NAT is bound per connection when conntrack sees its
 * first packet, so what matters for a source (pod IP) across a change is the binding its existing
 * connections carry versus the one they must carry now:
 *
 * <ul>
 *   <li>{@link Treatment}: how this node treats a source's new connections (forwarded with a null
 *       binding, SNATed to an LB IP, rejected), or absent;
 *   <li>{@link #switching}: the sources whose treatment changed (they are quarantined while their
 *       stale entries are deleted; a move between two gateways keeps the null binding and is no
 *       switch on a forwarding node);
 *   <li>{@link #stale}: the conntrack entries whose binding is wrong for the treatment now;
 *   <li>{@link #drains}: Gateway sources the plan moved away stay SNATed for a while, so packets
 *       that lagging nodes still send here leave with the LB IP instead of their pod IP;
 *   <li>{@link #settling}: sources that switched stay settling for a while: late replies to them
 *       (de-SNATed by a gateway that still holds the old binding) are dropped instead of becoming
 *       reverse entries.
 * </ul>
 */
public final class Transition {
  private Transition() {}

  /** How new connections of a source are bound on this node. */
  public sealed interface Treatment permits Forwarded, Snat, Rejected {}

  /** Marked and routed to a gateway; NAT: a null binding (source unchanged). */
  public record Forwarded() implements Treatment {}

  /**
   * SNATed to {@code lbIp} here: this node is the gateway, or ({@code draining}) was and keeps
   * SNATing the packets lagging nodes still send here.
   */
  public record Snat(String lbIp, boolean draining) implements Treatment {
    public Snat(String lbIp) {
      this(lbIp, false);
    }
  }

  /** Rejected: no connection of it may exist. */
  public record Rejected() implements Treatment {}

  /** A Gateway entry kept after the plan moved its sources away: same Service, family and LB IP. */
  public record Drain(
      String service, Family family, String lbIp, Set<String> sources, Instant until) {
    public static final String SUFFIX = "#drain";

    public Drain {
      sources = Set.copyOf(sources);
    }

    /**
     * The drain as an extra Gateway entry. Its Service name gets the suffix {@link #SUFFIX} (never
     * part of a real {@code namespace/name}), so its source set is its own and never collides with
     * the set of the Service's current entry on this node.
     */
    public Entry entry() {
      return new Entry(
          service + SUFFIX,
          family,
          Role.Gateway,
          Entry.DRAINING,
          Optional.empty(),
          Optional.empty(),
          Optional.of(lbIp),
          List.copyOf(sources));
    }
  }

  /**
   * The treatment of every source in {@code plan}, as its entries' roles say (a Forward that the
   * renderer later turns into a reject is still Forwarded here: it has no connections to lose).
   * Precedence follows the kernel: reject (filter) over mark (null binding before any SNAT) over
   * the first Gateway entry's SNAT.
   */
  public static Map<String, Treatment> treatments(DesiredPlan plan) {
    Map<String, Treatment> out = new HashMap<>();
    for (Entry e : plan.entries()) {
      if (e.role() == Role.Gateway) {
        boolean draining = Entry.DRAINING.equals(e.reason());
        e.sources()
            .forEach(ip -> out.putIfAbsent(ip, new Snat(e.snatIp().orElseThrow(), draining)));
      }
    }
    for (Entry e : plan.entries()) {
      if (e.role() == Role.Forward) {
        e.sources().forEach(ip -> out.put(ip, new Forwarded()));
      }
    }
    for (Entry e : plan.entries()) {
      if (e.role() == Role.Reject) {
        e.sources().forEach(ip -> out.put(ip, new Rejected()));
      }
    }
    return out;
  }

  /** The same, from what was rendered (Forward entries without route or mark are rejects). */
  public static Map<String, Treatment> treatments(DesiredState state) {
    Map<String, List<String>> members = new HashMap<>();
    state.sets().forEach(s -> members.put(s.name(), s.members()));
    Map<String, Treatment> out = new HashMap<>();
    for (SnatRule r : state.snats()) {
      members
          .getOrDefault(r.set(), List.of())
          .forEach(
              ip ->
                  out.putIfAbsent(ip, new Snat(r.toSource(), r.service().endsWith(Drain.SUFFIX))));
    }
    for (MarkRule r : state.marks()) {
      members.getOrDefault(r.set(), List.of()).forEach(ip -> out.put(ip, new Forwarded()));
    }
    for (RejectRule r : state.rejects()) {
      members.getOrDefault(r.set(), List.of()).forEach(ip -> out.put(ip, new Rejected()));
    }
    return out;
  }

  /**
   * Sources whose treatment differs between {@code before} and {@code after} (absent counts). A
   * gateway source that starts draining keeps its binding and is no switch; one that a gateway
   * takes back from a drain is (see {@link #stale}).
   */
  public static Set<String> switching(Map<String, Treatment> before, Map<String, Treatment> after) {
    Set<String> out = new TreeSet<>();
    before.forEach(
        (ip, t) -> {
          Treatment now = after.get(ip);
          boolean startsDraining =
              t instanceof Snat s
                  && now instanceof Snat n
                  && n.draining()
                  && n.lbIp().equals(s.lbIp());
          if (!Objects.equals(t, now) && !startsDraining) {
            out.add(ip);
          }
        });
    after.forEach(
        (ip, t) -> {
          if (!before.containsKey(ip)) {
            out.add(ip);
          }
        });
    return out;
  }

  /**
   * The drains after a plan change: the running ones that have not expired at {@code now}, plus,
   * for each Gateway entry of {@code before}, its sources that no Gateway entry of {@code after}
   * with the same LB IP SNATs any more, kept until {@code now + period}. A drained source that a
   * Gateway entry of {@code after} takes back leaves the drain.
   */
  public static List<Drain> drains(
      DesiredPlan before, DesiredPlan after, List<Drain> running, Instant now, Duration period) {
    Set<String> snatted = new HashSet<>();
    for (Entry e : after.entries()) {
      if (e.role() == Role.Gateway) {
        e.sources().forEach(ip -> snatted.add(ip + " " + e.snatIp().orElseThrow()));
      }
    }
    List<Drain> out = new ArrayList<>();
    for (Drain d : running) {
      if (d.until().isAfter(now)) {
        keep(out, d.service(), d.family(), d.lbIp(), d.sources(), snatted, d.until());
      }
    }
    if (!period.isZero()) {
      for (Entry e : before.entries()) {
        if (e.role() == Role.Gateway && !Entry.DRAINING.equals(e.reason())) {
          keep(
              out,
              e.service(),
              e.family(),
              e.snatIp().orElseThrow(),
              Set.copyOf(e.sources()),
              snatted,
              now.plus(period));
        }
      }
    }
    return out;
  }

  private static void keep(
      List<Drain> out,
      String service,
      Family family,
      String lbIp,
      Set<String> sources,
      Set<String> snatted,
      Instant until) {
    Set<String> left = new TreeSet<>();
    for (String ip : sources) {
      if (!snatted.contains(ip + " " + lbIp)) {
        left.add(ip);
      }
    }
    if (left.isEmpty()) {
      return;
    }
    for (int i = 0; i < out.size(); i++) {
      Drain d = out.get(i);
      if (d.service().equals(service) && d.family() == family && d.lbIp().equals(lbIp)) {
        Set<String> merged = new TreeSet<>(d.sources());
        merged.addAll(left);
        Instant later = d.until().isAfter(until) ? d.until() : until;
        out.set(i, new Drain(service, family, lbIp, merged, later));
        return;
      }
    }
    out.add(new Drain(service, family, lbIp, left, until));
  }

  /**
   * {@code plan} with one extra Gateway entry per drain (sources a real entry has are left out).
   */
  public static DesiredPlan withDrains(DesiredPlan plan, List<Drain> drains) {
    if (drains.isEmpty()) {
      return plan;
    }
    List<Entry> entries = new ArrayList<>(plan.entries());
    drains.forEach(d -> entries.add(d.entry()));
    return plan.withEntries(entries);
  }

  /**
   * The interfaces of the default routes in {@code ip -o route show default} output (both families,
   * multipath nexthops included).
   */
  public static List<String> uplinks(String ipRouteOutput) {
    Set<String> out = new TreeSet<>();
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("\\bdev (\\S+)").matcher(ipRouteOutput);
    while (m.find()) {
      out.add(m.group(1));
    }
    return List.copyOf(out);
  }

  /** The earliest drain expiry, when the agent must sync again. */
  public static Optional<Instant> nextExpiry(List<Drain> drains) {
    return drains.stream().map(Drain::until).min(Instant::compareTo);
  }

  /**
   * The settling sources after a sync at {@code now}, each with the end of its settling period: the
   * running ones that have not ended, plus every source in {@code switching}, settling for {@code
   * period} from now (again, if it already was).
   */
  public static Map<String, Instant> settling(
      Map<String, Instant> running, Set<String> switching, Instant now, Duration period) {
    Map<String, Instant> out = new java.util.TreeMap<>();
    running.forEach(
        (ip, until) -> {
          if (until.isAfter(now)) {
            out.put(ip, until);
          }
        });
    switching.forEach(ip -> out.put(ip, now.plus(period)));
    return out;
  }

  /**
   * The conntrack entries whose NAT binding is wrong for the treatment {@code now}, toward
   * destinations outside {@code exclude}. Only entries that a known source originated are touched
   * (never inbound connections to it: their original source is the client), plus stray entries:
   *
   * <ul>
   *   <li>Forwarded: any binding but the null one (an SNAT of the old gateway, the CNI's
   *       masquerade);
   *   <li>SNATed to L: any binding but L; and every entry of a source that switched to it (in
   *       {@code switching}) — a flow that comes back to this node after a failback finds the entry
   *       it left here when it went elsewhere, whose TCP window conntrack no longer accepts (its
   *       packets would be INVALID); deleted, the flow is picked up afresh;
   *   <li>Rejected: every entry;
   *   <li>a source in {@code left} (no treatment any more): null bindings only — they would leave
   *       with the pod IP; an SNAT to an LB IP or the CNI's masquerade is no leak and is kept;
   *   <li>stray: original destination one of this node's SNAT LB IPs, not DNATed, opened by no
   *       known source — replies of flows this node has not seen, that would clash with their SNAT.
   * </ul>
   */
  public static List<ConntrackEntry> stale(
      List<ConntrackEntry> entries,
      Map<String, Treatment> now,
      Set<String> switching,
      Set<String> left,
      List<Cidr> exclude) {
    Set<String> gatewayLbs = new HashSet<>();
    now.values()
        .forEach(
            t -> {
              if (t instanceof Snat s) {
                gatewayLbs.add(s.lbIp());
              }
            });
    List<ConntrackEntry> out = new ArrayList<>();
    for (ConntrackEntry e : entries) {
      Treatment t = now.get(e.origSrc());
      boolean stale;
      if (t != null || left.contains(e.origSrc())) {
        if (excluded(e.origDst(), e.family(), exclude)) {
          continue;
        }
        if (t == null) {
          stale = e.sourceUnchanged();
        } else if (t instanceof Forwarded) {
          stale = !e.sourceUnchanged();
        } else if (t instanceof Snat s) {
          stale =
              !e.replyDst().equals(s.lbIp()) || (!s.draining() && switching.contains(e.origSrc()));
        } else {
          stale = true; // Rejected
        }
      } else {
        stale = gatewayLbs.contains(e.origDst()) && e.destinationUnchanged();
      }
      if (stale) {
        out.add(e);
      }
    }
    return out;
  }

  /**
   * The {@code conntrack -R} lines that delete {@code stale} (a subset of {@code all}): one line
   * per protocol, source and destination when every entry of that flow key is stale (a connection
   * pool to one server is one line), one line per entry otherwise. Each line costs conntrack one
   * walk of the table, so fewer lines are faster.
   */
  public static List<String> deleteLines(List<ConntrackEntry> all, List<ConntrackEntry> stale) {
    Map<String, Integer> total = new HashMap<>();
    all.forEach(e -> total.merge(e.flowLine(), 1, Integer::sum));
    Map<String, List<ConntrackEntry>> byFlow = new java.util.LinkedHashMap<>();
    stale.forEach(e -> byFlow.computeIfAbsent(e.flowLine(), k -> new ArrayList<>()).add(e));
    List<String> out = new ArrayList<>();
    byFlow.forEach(
        (flow, entries) -> {
          if (entries.size() > 1 && entries.size() == total.getOrDefault(flow, 0)) {
            out.add(flow);
          } else {
            entries.forEach(e -> out.add(e.deleteLine()));
          }
        });
    return out;
  }

  private static boolean excluded(String ip, Family family, List<Cidr> exclude) {
    for (Cidr c : exclude) {
      if (c.family() == family && c.contains(ip)) {
        return true;
      }
    }
    return false;
  }
}
