package de.metaleg.agent.render;

import de.metaleg.common.net.Family;

/** The firewall rules MetalEG renders, backend neutral. */
public final class Rules {
  private Rules() {}

  /** Forward: mark packets from {@code set} with {@code mark}/{@code mask} (mangle PREROUTING). */
  public record MarkRule(Family family, String service, String set, long mark, long mask) {}

  /** Gateway: SNAT packets from {@code set} to {@code toSource} (nat POSTROUTING). */
  public record SnatRule(Family family, String service, String set, String toSource) {}

  /** Reject (or a Forward without route): reject packets from {@code set} (filter FORWARD). */
  public record RejectRule(Family family, String service, String set, String why) {}

  /** {@code default via gateway} in {@code table}. */
  public record RouteSpec(Family family, long table, String gateway) {}

  /** {@code ip rule: fwmark mark/mask lookup table, priority}. */
  public record PolicyRule(Family family, long mark, long mask, long table, int priority) {}
}
