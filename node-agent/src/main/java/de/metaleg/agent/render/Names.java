package de.metaleg.agent.render;

import de.metaleg.common.net.Family;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Names of every kernel object MetalEG owns. Chains start with {@code METALEG-}, ipsets with {@code
 * metaleg-} (at most 31 characters), route tables lie in the configured range, and ip rules use
 * {@link #RULE_PRIORITY}. Nothing without such a name is ever changed.
 */
public final class Names {
  public static final String CHAIN_PREFIX = "METALEG-";
  public static final String SET_PREFIX = "metaleg-";

  /** mangle table, jumped to from PREROUTING: marks Forward sources. */
  public static final String MARK_CHAIN = "METALEG-MARK";

  /** nat table, jumped to from POSTROUTING (first): marked RETURN, Gateway SNAT. */
  public static final String NAT_CHAIN = "METALEG-POSTROUTING";

  /** filter table, jumped to from FORWARD (first): rejects Reject sources. */
  public static final String FILTER_CHAIN = "METALEG-FORWARD";

  /** Priority of every {@code ip rule} MetalEG installs: before main (32766) and default. */
  public static final int RULE_PRIORITY = 10000;

  private Names() {}

  /** The source set of a Service in one family: metaleg-src4-&lt;16 hex of sha256(service)&gt;. */
  public static String sourceSet(String service, Family family) {
    return SET_PREFIX + "src" + family.digit() + "-" + digest(service);
  }

  public static String excludeSet(Family family) {
    return SET_PREFIX + "excl" + family.digit();
  }

  /** Every LB IP of this node's Services (any role): the transition guards match on it. */
  public static String lbSet(Family family) {
    return SET_PREFIX + "lb" + family.digit();
  }

  /** Every source this node SNATs (all Gateway entries): transit traffic of other sources drops. */
  public static String gatewaySet(Family family) {
    return SET_PREFIX + "gw" + family.digit();
  }

  /**
   * Whether membership in {@code set} lets packets through rather than treating them: the gateway
   * sets exempt a source from the transit guard, which is only safe once its SNAT rule exists.
   */
  public static boolean grantsPassage(String set) {
    return set.equals(gatewaySet(Family.V4)) || set.equals(gatewaySet(Family.V6));
  }

  /** Sources whose packets are dropped while their stale conntrack entries are removed. */
  public static String quarantineSet(Family family) {
    return SET_PREFIX + "quar" + family.digit();
  }

  /** Sources whose treatment changed recently: late replies to them are dropped (guard). */
  public static String settlingSet(Family family) {
    return SET_PREFIX + "settle" + family.digit();
  }

  /** Scratch set filled and swapped in during a full sync, destroyed afterwards. */
  public static String tempSet(Family family, String type) {
    return SET_PREFIX + "tmp" + family.digit() + (type.equals(IpSetSpec.HASH_NET) ? "-net" : "");
  }

  private static String digest(String s) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(h, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
