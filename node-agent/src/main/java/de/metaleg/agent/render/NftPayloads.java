package de.metaleg.agent.render;

import de.metaleg.agent.model.MarkSpace;
import de.metaleg.agent.render.Rules.MarkRule;
import de.metaleg.agent.render.Rules.RejectRule;
import de.metaleg.agent.render.Rules.SnatRule;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Pure: {@code nft -f} transactions for MetalEG's one table, {@code table inet metaleg} (both
 * families). Every line is a complete nft command, so a failing line is also its own shell command.
 *
 * <p>Base chains (hook, priority) — see docs/agent.md for why these:
 *
 * <ul>
 *   <li>{@code prerouting}: filter, prerouting, {@code mangle} (-150): replies and excluded
 *       destinations return; {@code ip saddr vmap @mark4} jumps Forward sources to {@code
 *       mark-<i>}, which sets the gateway's mark under the mask and keeps all other mark bits;
 *   <li>{@code postrouting}: nat, postrouting, {@code srcnat - 10} (90, before iptables' nat table
 *       and kube-proxy's nft masquerade at 100): marked packets get an explicit null binding
 *       ({@code snat ip to ip saddr}) so no later nat chain masquerades them; Gateway sources are
 *       SNATed with {@code snat ip to ip saddr map @snat4};
 *   <li>{@code forward}: filter, forward, {@code filter} (0): Reject sources are rejected.
 * </ul>
 */
public final class NftPayloads {
  public static final String FAMILY = "inet";
  public static final String TABLE = "metaleg";
  public static final String T = FAMILY + " " + TABLE;
  public static final String PREROUTING = "prerouting";
  public static final String POSTROUTING = "postrouting";
  public static final String FORWARD = "forward";
  public static final String MARK_CHAIN_PREFIX = "mark-";
  private static final int CHUNK = 1000;

  /** Base chain name to its declaration, in installation order (reject, no-masquerade, marks). */
  public static final Map<String, String> BASE_CHAINS =
      orderedMap(
          FORWARD, "type filter hook forward priority filter; policy accept;",
          POSTROUTING, "type nat hook postrouting priority srcnat - 10; policy accept;",
          PREROUTING, "type filter hook prerouting priority mangle; policy accept;");

  private NftPayloads() {}

  public static String excludeSet(Family f) {
    return "excl" + f.digit();
  }

  public static String rejectSet(Family f) {
    return "reject" + f.digit();
  }

  /** Every LB IP of the node's Services (guards). */
  public static String lbSet(Family f) {
    return "lb" + f.digit();
  }

  public static String quarantineSet(Family f) {
    return "quar" + f.digit();
  }

  public static String settlingSet(Family f) {
    return "settle" + f.digit();
  }

  /** {@code source . LB IP} of every Gateway source: the binding its connections must have. */
  public static String gatewayPairSet(Family f) {
    return "gwpair" + f.digit();
  }

  public static String markMap(Family f) {
    return "mark" + f.digit();
  }

  public static String snatMap(Family f) {
    return "snat" + f.digit();
  }

  public static String markChain(int index) {
    return MARK_CHAIN_PREFIX + index;
  }

  /** Set name to its declaration. */
  static Map<String, String> setDeclarations() {
    Map<String, String> out = new LinkedHashMap<>();
    for (Family f : Family.values()) {
      out.put(excludeSet(f), "type " + addr(f) + "; flags interval; auto-merge;");
      out.put(rejectSet(f), "type " + addr(f) + ";");
      out.put(lbSet(f), "type " + addr(f) + ";");
      out.put(quarantineSet(f), "type " + addr(f) + ";");
      out.put(settlingSet(f), "type " + addr(f) + ";");
      out.put(gatewayPairSet(f), "type " + addr(f) + " . " + addr(f) + ";");
    }
    return out;
  }

  /** Map name to its declaration. */
  static Map<String, String> mapDeclarations() {
    Map<String, String> out = new LinkedHashMap<>();
    for (Family f : Family.values()) {
      out.put(markMap(f), "type " + addr(f) + " : verdict;");
      out.put(snatMap(f), "type " + addr(f) + " : " + addr(f) + ";");
    }
    return out;
  }

  /**
   * The table contents {@code state} asks for. A source in several entries of one role follows the
   * iptables backend: the last Forward entry's mark wins (MARK does not end the chain), the first
   * Gateway entry's SNAT wins.
   */
  public static NftState state(DesiredState state, MarkSpace space) {
    return state(state, space, null);
  }

  /**
   * Like {@link #state(DesiredState, MarkSpace)}, but the sets and maps hold only the sources in
   * {@code only} (all when {@code null}; the exclude sets then stay empty): the incremental path
   * compares just the sources {@link #changedSources} names. Elements keep the order of the entries
   * and their (sorted) sources, so payloads are deterministic without sorting 40,000 strings.
   */
  public static NftState state(DesiredState state, MarkSpace space, Set<String> only) {
    SortedSet<Integer> chains = new TreeSet<>();
    Map<String, Set<String>> sets = new TreeMap<>();
    Map<String, Map<String, String>> maps = new TreeMap<>();
    for (Family f : Family.values()) {
      sets.put(excludeSet(f), new LinkedHashSet<>());
      sets.put(rejectSet(f), new LinkedHashSet<>());
      sets.put(lbSet(f), new LinkedHashSet<>());
      sets.put(quarantineSet(f), new LinkedHashSet<>());
      sets.put(settlingSet(f), new LinkedHashSet<>());
      sets.put(gatewayPairSet(f), new LinkedHashSet<>());
      maps.put(markMap(f), new LinkedHashMap<>());
      maps.put(snatMap(f), new LinkedHashMap<>());
    }
    // the guard sets that the nft table holds under its own names, members as rendered
    Map<String, String> copied = new HashMap<>();
    for (Family f : Family.values()) {
      copied.put(Names.lbSet(f), lbSet(f));
      copied.put(Names.quarantineSet(f), quarantineSet(f));
      copied.put(Names.settlingSet(f), settlingSet(f));
    }
    Map<String, List<String>> members = new HashMap<>();
    for (IpSetSpec s : state.sets()) {
      members.put(s.name(), only == null ? s.members() : filter(s.members(), only));
      if (only == null && s.name().equals(Names.excludeSet(s.family()))) {
        sets.get(excludeSet(s.family())).addAll(s.members());
      } else if (copied.containsKey(s.name())) {
        sets.get(copied.get(s.name())).addAll(members.get(s.name()));
      }
    }
    for (MarkRule r : state.marks()) {
      int index = (int) (r.mark() >>> space.shift());
      chains.add(index);
      String jump = "goto " + markChain(index);
      Map<String, String> map = maps.get(markMap(r.family()));
      for (String ip : members.getOrDefault(r.set(), List.of())) {
        map.put(ip, jump);
      }
    }
    for (SnatRule r : state.snats()) {
      Map<String, String> map = maps.get(snatMap(r.family()));
      for (String ip : members.getOrDefault(r.set(), List.of())) {
        if (map.putIfAbsent(ip, r.toSource()) == null) {
          sets.get(gatewayPairSet(r.family())).add(ip + " . " + r.toSource());
        }
      }
    }
    for (RejectRule r : state.rejects()) {
      sets.get(rejectSet(r.family())).addAll(members.getOrDefault(r.set(), List.of()));
    }
    return new NftState(chains, sets, maps, state.uplinks());
  }

  /**
   * The sources whose elements may differ between two states: every member, old and new, of each
   * source set whose members or rule (role, mark, LB IP) changed. Cheap: compares 2,000 member
   * lists instead of 40,000 elements.
   */
  public static Set<String> changedSources(DesiredState before, DesiredState after) {
    Map<String, List<String>> bm = sourceSets(before);
    Map<String, List<String>> am = sourceSets(after);
    Map<String, Object> br = rulesBySet(before);
    Map<String, Object> ar = rulesBySet(after);
    Set<String> names = new HashSet<>(bm.keySet());
    names.addAll(am.keySet());
    Set<String> out = new HashSet<>();
    for (String n : names) {
      List<String> b = bm.getOrDefault(n, List.of());
      List<String> a = am.getOrDefault(n, List.of());
      if (!b.equals(a) || !Objects.equals(br.get(n), ar.get(n))) {
        out.addAll(b);
        out.addAll(a);
      }
    }
    return out;
  }

  private static Map<String, List<String>> sourceSets(DesiredState state) {
    Map<String, List<String>> out = new HashMap<>();
    for (IpSetSpec s : state.sets()) {
      if (!s.name().equals(Names.excludeSet(s.family()))) {
        out.put(s.name(), s.members());
      }
    }
    return out;
  }

  /** Set name to what its rule does, without the Service name and reason. */
  private static Map<String, Object> rulesBySet(DesiredState state) {
    Map<String, Object> out = new HashMap<>();
    state.marks().forEach(r -> out.put(r.set(), List.of("mark", r.mark())));
    state.snats().forEach(r -> out.put(r.set(), List.of("snat", r.toSource())));
    state.rejects().forEach(r -> out.put(r.set(), "reject"));
    return out;
  }

  private static List<String> filter(List<String> members, Set<String> only) {
    List<String> out = new ArrayList<>();
    if (only.size() < members.size()) {
      for (String ip : only) {
        if (Collections.binarySearch(members, ip) >= 0) {
          out.add(ip);
        }
      }
    } else {
      for (String ip : members) {
        if (only.contains(ip)) {
          out.add(ip);
        }
      }
    }
    return out;
  }

  /** The rules of each chain {@code state} needs, chain name to rule lines (without "add rule"). */
  public static Map<String, List<String>> chains(NftState state, MarkSpace space) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    String reply = "ct direction reply return";
    List<String> post = new ArrayList<>();
    List<String> pre = new ArrayList<>(List.of(reply));
    String mask = hex(space.mask());
    List<String> forward = new ArrayList<>(List.of(reply));
    forward.add("meta mark & " + mask + " != 0 ct status snat" + guard(Guard.MARKED_SNAT));
    for (Family f : Family.values()) {
      forward.add(ip(f) + " saddr @" + lbSet(f) + guard(Guard.LB_SOURCE));
      forward.add(
          ip(f)
              + " daddr @"
              + lbSet(f)
              + " ct state new ct status & dnat == 0"
              + guard(Guard.STRAY_REPLY));
      for (String proto : List.of("udp", "tcp tcp flags & (fin|syn|rst|ack) != syn")) {
        forward.add(
            "meta l4proto "
                + proto
                + " "
                + ip(f)
                + " daddr @"
                + settlingSet(f)
                + " "
                + ip(f)
                + " saddr != @"
                + excludeSet(f)
                + " ct state new ct status & dnat == 0"
                + guard(Guard.SETTLING));
      }
    }
    for (Family f : Family.values()) {
      String excluded = ip(f) + " daddr @" + excludeSet(f) + " return";
      forward.add(excluded);
      pre.add(excluded);
      post.add(
          "meta mark & "
              + mask
              + " != 0 snat "
              + ip(f)
              + " to "
              + ip(f)
              + " saddr comment \"rerouted to gateway: no masquerade\"");
    }
    for (Family f : Family.values()) {
      forward.add(ip(f) + " saddr @" + quarantineSet(f) + guard(Guard.QUARANTINE));
      forward.add("ct state invalid " + ip(f) + " saddr @" + excludeSet(f) + guard(Guard.INVALID));
      forward.add(
          ip(f)
              + " saddr @"
              + snatMap(f)
              + " meta mark & "
              + mask
              + " == 0 ct status confirmed "
              + ip(f)
              + " saddr . ct reply "
              + ip(f)
              + " daddr != @"
              + gatewayPairSet(f)
              + guard(Guard.UNBOUND));
    }
    if (!state.uplinks().isEmpty()) {
      String pairs =
          String.join(
              ", ", state.uplinks().stream().map(i -> "\"" + i + "\" . \"" + i + "\"").toList());
      for (Family f : Family.values()) {
        forward.add(
            "iifname . oifname { "
                + pairs
                + " } "
                + ip(f)
                + " saddr @"
                + excludeSet(f)
                + " "
                + ip(f)
                + " saddr != @"
                + snatMap(f)
                + guard(Guard.TRANSIT));
      }
    }
    for (Family f : Family.values()) {
      String unreachable =
          f == Family.V4 ? "icmp type port-unreachable" : "icmpv6 type port-unreachable";
      forward.add(
          "meta l4proto tcp " + ip(f) + " saddr @" + rejectSet(f) + " reject with tcp reset");
      forward.add(ip(f) + " saddr @" + rejectSet(f) + " reject with " + unreachable);
      post.add(ip(f) + " daddr @" + excludeSet(f) + " return");
      pre.add(ip(f) + " saddr vmap @" + markMap(f));
    }
    for (Family f : Family.values()) {
      post.add("snat " + ip(f) + " to " + ip(f) + " saddr map @" + snatMap(f));
    }
    out.put(FORWARD, forward);
    out.put(POSTROUTING, post);
    out.put(PREROUTING, pre);
    long keep = ~space.mask() & 0xFFFFFFFFL;
    for (int i : state.markChains()) {
      out.put(
          markChain(i),
          List.of("meta mark set meta mark & " + hex(keep) + " | " + hex(space.mark(i))));
    }
    return out;
  }

  /**
   * One transaction that makes the table exactly {@code state}: declare table, chains, sets and
   * maps (idempotent), flush them, delete the {@code mark-<i>} chains in {@code existingChains}
   * that are no longer wanted, re-add all rules and elements.
   */
  public static String full(NftState state, MarkSpace space, Set<String> existingChains) {
    StringBuilder b = new StringBuilder();
    b.append("add table ").append(T).append('\n');
    BASE_CHAINS.forEach(
        (name, decl) -> line(b, "add chain " + T + " " + name + " { " + decl + " }"));
    Map<String, List<String>> chains = chains(state, space);
    for (String name : chains.keySet()) {
      if (!BASE_CHAINS.containsKey(name)) {
        line(b, "add chain " + T + " " + name);
      }
    }
    setDeclarations().forEach((n, d) -> line(b, "add set " + T + " " + n + " { " + d + " }"));
    mapDeclarations().forEach((n, d) -> line(b, "add map " + T + " " + n + " { " + d + " }"));
    chains.keySet().forEach(n -> line(b, "flush chain " + T + " " + n));
    setDeclarations().keySet().forEach(n -> line(b, "flush set " + T + " " + n));
    mapDeclarations().keySet().forEach(n -> line(b, "flush map " + T + " " + n));
    new TreeSet<>(existingChains)
        .stream()
            .filter(n -> n.startsWith(MARK_CHAIN_PREFIX) && !chains.containsKey(n))
            .forEach(
                n -> {
                  line(b, "flush chain " + T + " " + n);
                  line(b, "delete chain " + T + " " + n);
                });
    chains.forEach((n, rules) -> rules.forEach(r -> line(b, "add rule " + T + " " + n + " " + r)));
    state.sets().forEach((n, els) -> elements(b, "add", n, List.copyOf(els)));
    state.maps().forEach((n, m) -> elements(b, "add", n, pairs(m, m.keySet())));
    return b.toString();
  }

  /**
   * One transaction from {@code before} to {@code after} with element add/delete only (and the
   * {@code mark-<i>} chains that appear or go away); empty when nothing changed.
   */
  public static String incremental(NftState before, NftState after, MarkSpace space) {
    StringBuilder b = new StringBuilder();
    Map<String, List<String>> chains = chains(after, space);
    for (int i : after.markChains()) {
      if (!before.markChains().contains(i)) {
        String n = markChain(i);
        line(b, "add chain " + T + " " + n);
        chains.get(n).forEach(r -> line(b, "add rule " + T + " " + n + " " + r));
      }
    }
    after
        .sets()
        .forEach(
            (n, want) -> {
              Set<String> have = before.sets().getOrDefault(n, Set.of());
              elements(
                  b, "delete", n, have.stream().filter(e -> !want.contains(e)).sorted().toList());
              elements(b, "add", n, want.stream().filter(e -> !have.contains(e)).sorted().toList());
            });
    after
        .maps()
        .forEach(
            (n, want) -> {
              Map<String, String> have = before.maps().getOrDefault(n, Map.of());
              List<String> gone = new ArrayList<>();
              List<String> added = new ArrayList<>();
              have.forEach(
                  (k, v) -> {
                    if (!v.equals(want.get(k))) {
                      gone.add(k);
                    }
                  });
              want.forEach(
                  (k, v) -> {
                    if (!v.equals(have.get(k))) {
                      added.add(k);
                    }
                  });
              Collections.sort(gone);
              Collections.sort(added);
              elements(b, "delete", n, gone);
              elements(b, "add", n, pairs(want, added));
            });
    for (int i : before.markChains()) {
      if (!after.markChains().contains(i)) {
        line(b, "flush chain " + T + " " + markChain(i));
        line(b, "delete chain " + T + " " + markChain(i));
      }
    }
    return b.toString();
  }

  /** A counted drop with the guard's comment (the counter is read back for the metrics). */
  private static String guard(Guard g) {
    return " counter drop comment \"" + g.comment() + "\"";
  }

  private static List<String> pairs(Map<String, String> m, Collection<String> keys) {
    List<String> out = new ArrayList<>(keys.size());
    keys.forEach(k -> out.add(k + " : " + m.get(k)));
    return out;
  }

  private static void elements(StringBuilder b, String verb, String name, List<String> els) {
    for (int i = 0; i < els.size(); i += CHUNK) {
      b.append(verb).append(" element ").append(T).append(' ').append(name).append(" { ");
      b.append(String.join(", ", els.subList(i, Math.min(els.size(), i + CHUNK))));
      b.append(" }\n");
    }
  }

  private static void line(StringBuilder b, String s) {
    b.append(s).append('\n');
  }

  private static String addr(Family f) {
    return f == Family.V4 ? "ipv4_addr" : "ipv6_addr";
  }

  private static String ip(Family f) {
    return f == Family.V4 ? "ip" : "ip6";
  }

  /** Marks as nft prints them: 0x%08x. */
  public static String hex(long v) {
    return String.format("0x%08x", v);
  }

  private static Map<String, String> orderedMap(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return Collections.unmodifiableMap(m);
  }
}
