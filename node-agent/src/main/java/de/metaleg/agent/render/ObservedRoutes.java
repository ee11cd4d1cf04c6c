package de.metaleg.agent.render;

import de.metaleg.agent.render.Rules.PolicyRule;
import de.metaleg.common.net.Family;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * MetalEG's routing state of one family as read back from the kernel: the owned tables that hold
 * routes, the gateway of each owned table's default route, and the owned ip rules.
 */
public record ObservedRoutes(
    Family family, Set<Long> tables, Map<Long, String> defaultGateways, List<PolicyRule> rules) {
  public ObservedRoutes {
    tables = Set.copyOf(tables);
    defaultGateways = Map.copyOf(defaultGateways);
    rules = List.copyOf(rules);
  }

  public static ObservedRoutes empty(Family f) {
    return new ObservedRoutes(f, Set.of(), Map.of(), List.of());
  }
}
