package de.metaleg.agent.render;

/**
 * The drop rules that keep every transition leak-free, in both firewall backends (filter FORWARD).
 * Each rule carries the comment {@link #comment()}, so its packet counter can be read back per
 * guard. docs/agent.md explains each one.
 */
public enum Guard {
  /**
   * A packet marked for a gateway whose connection already carries an SNAT binding (the old
   * gateway's SNAT, or the CNI's masquerade from before the label): it would leave with the wrong
   * source. Lasts until the stale conntrack entry is deleted.
   */
  MARKED_SNAT("marked-snat"),
  /** A forwarded packet whose source already is one of the node's LB IPs: SNATed elsewhere. */
  LB_SOURCE("lb-source"),
  /**
   * A new, not DNATed packet to an LB IP: a reply of a flow this node has never seen (MetalLB moved
   * the replies here first). Dropped before conntrack confirms it, so it leaves no entry that would
   * clash with the flow's SNAT later.
   */
  STRAY_REPLY("stray-reply"),
  /**
   * A new, not DNATed UDP packet or TCP segment other than a SYN, from outside to a source whose
   * treatment changed recently: a late reply (or a retransmission) of a flow whose conntrack entry
   * this node just deleted, de-SNATed by a gateway that still holds the old binding. Confirmed, it
   * would become an entry in the reverse direction, and the pod's own packets, matching it as
   * replies, would leave un-NATed with the pod address.
   */
  SETTLING("settling"),
  /** A source whose treatment is switching, while its stale conntrack entries are removed. */
  QUARANTINE("quarantine"),
  /**
   * A packet from a cluster address (inside the exclude ranges) toward the outside that conntrack
   * classifies INVALID (e.g. a RST after its entry was deleted): it would skip NAT and leave with
   * the pod IP. Like kube-proxy's INVALID drop in KUBE-FORWARD, also for sources that just left a
   * plan.
   */
  INVALID("invalid"),
  /** A Gateway source's established flow that is not SNATed to the Service's LB IP. */
  UNBOUND("unbound"),
  /**
   * A cluster address (inside the exclude ranges) that comes in and goes out on an uplink toward
   * the outside without being one of this node's Gateway sources: another node forwarded it here
   * before this node was its gateway, or after it stopped being it. Forwarded with its pod address
   * it would leak.
   */
  TRANSIT("transit");

  private final String label;

  Guard(String label) {
    this.label = label;
  }

  /** The metric label value. */
  public String label() {
    return label;
  }

  /** The rule comment, in both backends. */
  public String comment() {
    return "metaleg guard " + label;
  }
}
