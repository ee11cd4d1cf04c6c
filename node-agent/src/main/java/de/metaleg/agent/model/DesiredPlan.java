package de.metaleg.agent.model;

import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The validated entries of one node's plan, sorted by service and family, plus two facts of the
 * transition protocol that the agent adds (docs/agent.md, "Transitions"):
 *
 * @param quarantine addresses (either family, canonical) whose packets toward non-excluded
 *     destinations are dropped while their stale connection-tracking entries are removed
 * @param uplinks the node's uplink interfaces (those of its default routes): a packet that comes in
 *     and goes out on one of them is another node's traffic in transit
 * @param settling addresses whose treatment changed recently: a new, not DNATed packet from outside
 *     to one of them is a late reply of a flow whose entry was deleted, and is dropped
 */
public record DesiredPlan(
    List<Entry> entries, Set<String> quarantine, List<String> uplinks, Set<String> settling) {
  public DesiredPlan {
    entries =
        entries.stream()
            .sorted(Comparator.comparing(Entry::service).thenComparing(Entry::family))
            .toList();
    quarantine = Set.copyOf(new TreeSet<>(quarantine));
    uplinks = List.copyOf(new TreeSet<>(uplinks));
    settling = Set.copyOf(new TreeSet<>(settling));
  }

  public DesiredPlan(List<Entry> entries, Set<String> quarantine, List<String> uplinks) {
    this(entries, quarantine, uplinks, Set.of());
  }

  public DesiredPlan(List<Entry> entries) {
    this(entries, Set.of(), List.of());
  }

  public static DesiredPlan empty() {
    return new DesiredPlan(List.of());
  }

  public DesiredPlan withQuarantine(Set<String> sources) {
    return new DesiredPlan(entries, sources, uplinks, settling);
  }

  public DesiredPlan withUplinks(List<String> interfaces) {
    return new DesiredPlan(entries, quarantine, interfaces, settling);
  }

  public DesiredPlan withEntries(List<Entry> more) {
    return new DesiredPlan(more, quarantine, uplinks, settling);
  }

  public DesiredPlan withSettling(Set<String> sources) {
    return new DesiredPlan(entries, quarantine, uplinks, sources);
  }
}
