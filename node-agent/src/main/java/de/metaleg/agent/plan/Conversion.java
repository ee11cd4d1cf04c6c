package de.metaleg.agent.plan;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import java.util.List;
import java.util.Map;

/**
 * The result of converting a plan: what to program, the problems found (each naming the entry), and
 * the per-service last good entries to carry into the next conversion.
 */
public record Conversion(
    DesiredPlan plan, List<String> problems, Map<String, List<Entry>> lastGoodByService) {
  public Conversion {
    problems = List.copyOf(problems);
    lastGoodByService = Map.copyOf(lastGoodByService);
  }
}
