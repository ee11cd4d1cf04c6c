package de.metaleg.controller.plan;

import de.metaleg.common.net.Family;
import de.metaleg.common.net.IpAddress;
import java.util.Optional;
import java.util.Set;

/**
 * What the planner knows about a Node: its first InternalIP per family (the route target for
 * Forward entries) and all its addresses (InternalIP and ExternalIP), which must never be SNATed.
 */
public record NodeInfo(
    String name,
    Optional<IpAddress> internalIPv4,
    Optional<IpAddress> internalIPv6,
    Set<IpAddress> addresses) {
  public NodeInfo {
    addresses = Set.copyOf(addresses);
  }

  public Optional<IpAddress> internalIP(Family family) {
    return family == Family.V4 ? internalIPv4 : internalIPv6;
  }
}
