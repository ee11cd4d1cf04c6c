package de.metaleg.agent.render;

import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Pure: {@code ipset restore} payloads that turn the {@code current} sets into the desired ones.
 * Unchanged sets produce no lines. A sync applies them in two phases around the rule changes
 * ({@link #grow} before, {@link #shrink} after); {@link #install} is both in one payload, for an
 * empty kernel or a state no rule refers to. A changed set is either filled into a scratch set and
 * swapped in ({@code swap}, used by full syncs, kube-router style) or patched with add/del lines
 * (incremental syncs: one added endpoint is one line).
 */
public final class IpsetPayloads {
  private IpsetPayloads() {}

  /** {@link #grow} and {@link #shrink} in one payload. */
  public static String install(
      List<IpSetSpec> desired, Map<String, ObservedSet> current, boolean swap) {
    return grow(desired, current) + shrink(desired, current, swap);
  }

  /**
   * Phase 1 of a sync, before the rules change: creates the missing sets and adds the missing
   * members; removes nothing. While the rules change, every source is then in its old sets and its
   * new ones, so it keeps the old rules' treatment until the new rules that cover it are in place:
   * a source moving from one SNAT set to another is SNATed throughout, and where the old and the
   * new treatment differ the stricter one (quarantine, reject) wins for those milliseconds. Sets
   * that grant passage ({@link Names#grantsPassage}) work the other way round: they lose members
   * here and gain them in {@link #shrink}, once the rules that treat those members exist.
   */
  public static String grow(List<IpSetSpec> desired, Map<String, ObservedSet> current) {
    StringBuilder b = new StringBuilder();
    for (IpSetSpec d : desired) {
      ObservedSet cur = current.get(d.name());
      if (cur == null) {
        b.append(create(d.name(), d.type(), d.family()));
      }
      List<String> have = cur == null ? List.of() : cur.members();
      if (Names.grantsPassage(d.name())) {
        lines(b, "del", d.name(), minus(have, d.members()));
      } else {
        lines(b, "add", d.name(), minus(d.members(), have));
      }
    }
    return b.toString();
  }

  /**
   * Phase 2, after the rules changed: the sets {@link #grow} left with extra members get exactly
   * the desired ones ({@code swap}: filled into a scratch set and swapped in; otherwise del lines),
   * and sets that grant passage get their new members. {@code current} is the state before {@link
   * #grow}.
   */
  public static String shrink(
      List<IpSetSpec> desired, Map<String, ObservedSet> current, boolean swap) {
    StringBuilder b = new StringBuilder();
    Set<String> temps = new LinkedHashSet<>();
    for (IpSetSpec d : desired) {
      List<String> have = current.containsKey(d.name()) ? current.get(d.name()).members() : null;
      if (Names.grantsPassage(d.name())) {
        lines(b, "add", d.name(), minus(d.members(), have == null ? List.of() : have));
        continue;
      }
      if (have == null || minus(have, d.members()).isEmpty()) {
        continue;
      }
      if (swap) {
        String tmp = Names.tempSet(d.family(), d.type());
        if (temps.add(tmp)) {
          b.append(create(tmp, d.type(), d.family()));
        }
        b.append("flush ").append(tmp).append('\n');
        d.members().forEach(m -> b.append("add ").append(tmp).append(' ').append(m).append('\n'));
        b.append("swap ").append(tmp).append(' ').append(d.name()).append('\n');
      } else {
        lines(b, "del", d.name(), minus(have, d.members()));
      }
    }
    temps.forEach(t -> b.append("destroy ").append(t).append('\n'));
    return b.toString();
  }

  /** The members of {@code from} that {@code without} lacks, in {@code from}'s order. */
  private static List<String> minus(List<String> from, List<String> without) {
    Set<String> w = new HashSet<>(without);
    return from.stream().filter(m -> !w.contains(m)).toList();
  }

  private static void lines(StringBuilder b, String op, String set, List<String> members) {
    members.forEach(
        m -> b.append(op).append(' ').append(set).append(' ').append(m).append(" -exist\n"));
  }

  /** Destroys owned sets that are no longer wanted; run after the rules using them are gone. */
  public static String removeStale(List<IpSetSpec> desired, Map<String, ObservedSet> current) {
    Set<String> want = new HashSet<>();
    desired.forEach(d -> want.add(d.name()));
    List<String> stale = new ArrayList<>();
    current.keySet().stream()
        .filter(n -> n.startsWith(Names.SET_PREFIX) && !want.contains(n))
        .sorted()
        .forEach(stale::add);
    StringBuilder b = new StringBuilder();
    stale.forEach(n -> b.append("destroy ").append(n).append('\n'));
    return b.toString();
  }

  private static String create(String name, String type, Family f) {
    return "create " + name + " " + type + " family " + f.ipsetFamily() + " -exist\n";
  }
}
