package de.metaleg.agent.model;

import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One validated egress entry for one address family: the unit the agent programs. Built from the
 * plan's {@code EgressEntry} POJOs by {@code de.metaleg.agent.plan.PlanConverter}.
 *
 * @param service the Service as {@code namespace/name}
 * @param gatewayIp the gateway node's InternalIP of this family (Forward only)
 * @param snatIp the Service's LB IP of this family: required for Gateway (the SNAT address);
 *     Forward and Reject entries carry it too when the plan names it, so the transition guards know
 *     every LB IP of the node's Services
 * @param sources canonical, sorted, distinct pod IPs of this family
 */
public record Entry(
    String service,
    Family family,
    Role role,
    String reason,
    Optional<String> gatewayNode,
    Optional<String> gatewayIp,
    Optional<String> snatIp,
    List<String> sources) {
  public Entry {
    Objects.requireNonNull(service);
    Objects.requireNonNull(family);
    Objects.requireNonNull(role);
    reason = reason == null ? "" : reason;
    sources = List.copyOf(sources.stream().sorted().distinct().toList());
    if (role == Role.Forward && (gatewayNode.isEmpty() || gatewayIp.isEmpty())) {
      throw new IllegalArgumentException("Forward entry needs gateway node and IP: " + service);
    }
    if (role == Role.Gateway && snatIp.isEmpty()) {
      throw new IllegalArgumentException("Gateway entry needs an SNAT IP: " + service);
    }
  }

  /**
   * Reason of a Gateway entry the agent keeps for a while after the plan moved its sources away
   * (see {@code Transition.drains}): not counted as a programmed Service.
   */
  public static final String DRAINING = "Draining";

  /** Identity of an entry across syncs: service and family. */
  public String key() {
    return service + "/" + family.label();
  }
}
