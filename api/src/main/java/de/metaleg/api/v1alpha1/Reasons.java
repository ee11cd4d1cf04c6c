package de.metaleg.api.v1alpha1;

/** Machine-readable reasons for an entry's role ({@code spec.entries[].reason}). */
public final class Reasons {
  /** Gateway: MetalLB announces the LB IP from this node. */
  public static final String ANNOUNCED_BY_THIS_NODE = "AnnouncedByThisNode";

  /** Forward: MetalLB announces the LB IP from another node. */
  public static final String ANNOUNCED_BY_OTHER_NODE = "AnnouncedByOtherNode";

  /** Reject: no ServiceL2Status names an announcing node. */
  public static final String NO_ANNOUNCER = "NoAnnouncer";

  /** Reject: the announcing node is not a Node of the cluster. */
  public static final String ANNOUNCER_NODE_UNKNOWN = "AnnouncerNodeUnknown";

  /** Reject: the gateway node has no InternalIP of the entry's address family. */
  public static final String GATEWAY_HAS_NO_INTERNAL_IPV4 = "GatewayHasNoInternalIPv4";

  public static final String GATEWAY_HAS_NO_INTERNAL_IPV6 = "GatewayHasNoInternalIPv6";

  private Reasons() {}
}
