package de.metaleg.agent.render;

import de.metaleg.agent.model.Cidr;
import de.metaleg.agent.model.MarkSpace;
import de.metaleg.common.net.Family;
import java.util.List;

/** What the renderer needs to know about this node besides the plan. */
public record NodeFacts(MarkSpace marks, List<Cidr> excludeDestinations) {
  public NodeFacts {
    excludeDestinations = List.copyOf(excludeDestinations);
  }

  public List<String> exclude(Family f) {
    return excludeDestinations.stream().filter(c -> c.family() == f).map(Cidr::text).toList();
  }
}
