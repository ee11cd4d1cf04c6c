package de.metaleg.controller.plan;

import java.util.Optional;
import java.util.Set;

/**
 * What the planner knows about a Node: its first InternalIP per family (the route target for
 * Forward entries) and all its addresses (InternalIP and ExternalIP), which must never be SNATed.
 */
public record NodeInfo(
    String name,
    Optional<IpAddr> internalIPv4,
    Optional<IpAddr> internalIPv6,
    Set<IpAddr> addresses) {
  public NodeInfo {
    addresses = Set.copyOf(addresses);
  }

  public Optional<IpAddr> internalIP(IpAddr.Family family) {
    return family == IpAddr.Family.IPv4 ? internalIPv4 : internalIPv6;
  }
}
