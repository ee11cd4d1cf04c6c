package de.metaleg.agent.model;

import java.util.Comparator;
import java.util.List;

/** The validated entries of one node's plan, sorted by service and family. */
public record DesiredPlan(List<Entry> entries) {
  public DesiredPlan {
    entries =
        entries.stream()
            .sorted(Comparator.comparing(Entry::service).thenComparing(Entry::family))
            .toList();
  }

  public static DesiredPlan empty() {
    return new DesiredPlan(List.of());
  }
}
