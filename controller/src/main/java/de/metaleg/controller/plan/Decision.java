package de.metaleg.controller.plan;

import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.IpAddress;

/**
 * A node's role for one address family of one Service, and why ({@link
 * de.metaleg.api.v1alpha1.Reasons}).
 *
 * @param gatewayNode the announcing node, when there is one (null otherwise)
 * @param gatewayIP the announcing node's InternalIP of the family, set only for Forward
 */
public record Decision(Role role, String reason, String gatewayNode, IpAddress gatewayIP) {
  /** Whether two families can share one plan entry. */
  public boolean sameRole(Decision o) {
    return role == o.role
        && reason.equals(o.reason)
        && java.util.Objects.equals(gatewayNode, o.gatewayNode);
  }
}
