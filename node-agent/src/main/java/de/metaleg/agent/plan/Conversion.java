package de.metaleg.agent.plan;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The result of converting a plan: what to program, the problems found (each naming the entry), the
 * per-service last good entries to carry into the next conversion, and the Services whose entry is
 * invalid and had no last good state to keep ({@code unknownGood}: after a restart the agent can
 * recover their state from the kernel).
 */
public record Conversion(
    DesiredPlan plan,
    List<String> problems,
    Map<String, List<Entry>> lastGoodByService,
    Set<String> unknownGood) {
  public Conversion {
    problems = List.copyOf(problems);
    lastGoodByService = Map.copyOf(lastGoodByService);
    unknownGood = Set.copyOf(unknownGood);
  }
}
