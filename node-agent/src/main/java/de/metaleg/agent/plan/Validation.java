package de.metaleg.agent.plan;

import de.metaleg.agent.model.Entry;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A plan's entries checked one by one, before any last good state is applied: the valid entries
 * (plan order), a problem per invalid entry (naming it), and the Services with an invalid entry.
 */
public record Validation(List<Entry> good, List<String> problems, Set<String> badServices) {
  public Validation {
    good = List.copyOf(good);
    problems = List.copyOf(problems);
    badServices = Set.copyOf(badServices);
  }

  /**
   * The Services whose entry is invalid and that have no last good state to keep: after a restart
   * the agent can recover theirs from the kernel.
   */
  public Set<String> withoutLastGood(Map<String, List<Entry>> lastGood) {
    return badServices.stream().filter(s -> !lastGood.containsKey(s)).collect(Collectors.toSet());
  }
}
