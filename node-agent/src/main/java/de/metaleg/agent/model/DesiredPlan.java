package de.metaleg.agent.model;

import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The validated entries of one node's plan, sorted by service and family, and the sources in
 * quarantine: addresses (either family, canonical) whose packets toward non-excluded destinations
 * are dropped while their stale connection-tracking entries are removed.
 */
public record DesiredPlan(List<Entry> entries, Set<String> quarantine) {
  public DesiredPlan {
    entries =
        entries.stream()
            .sorted(Comparator.comparing(Entry::service).thenComparing(Entry::family))
            .toList();
    quarantine = Set.copyOf(new TreeSet<>(quarantine));
  }

  public DesiredPlan(List<Entry> entries) {
    this(entries, Set.of());
  }

  public static DesiredPlan empty() {
    return new DesiredPlan(List.of());
  }

  public DesiredPlan withQuarantine(Set<String> sources) {
    return new DesiredPlan(entries, sources);
  }
}
