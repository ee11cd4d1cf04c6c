package de.metaleg.common.net;

/**
 * An address family. The controller plans per family and the agent programs every kernel object it
 * owns once per family; the words the kernel tools use for a family are kept here so that each
 * family-dependent spelling exists once.
 */
public enum Family {
  V4("4", "inet", "iptables", "-4", 32),
  V6("6", "inet6", "ip6tables", "-6", 128);

  private final String digit;
  private final String ipsetFamily;
  private final String iptables;
  private final String ipFlag;
  private final int bits;

  Family(String digit, String ipsetFamily, String iptables, String ipFlag, int bits) {
    this.digit = digit;
    this.ipsetFamily = ipsetFamily;
    this.iptables = iptables;
    this.ipFlag = ipFlag;
    this.bits = bits;
  }

  /** "4" or "6", used in object names. */
  public String digit() {
    return digit;
  }

  /** The ipset {@code family} option: inet or inet6. */
  public String ipsetFamily() {
    return ipsetFamily;
  }

  /** Command prefix: iptables or ip6tables. */
  public String iptables() {
    return iptables;
  }

  /** iproute2 family flag: -4 or -6. */
  public String ipFlag() {
    return ipFlag;
  }

  /** Address length: 32 or 128. */
  public int bits() {
    return bits;
  }

  /** "IPv4" or "IPv6", as messages and CRD field names spell it. */
  public String label() {
    return this == V4 ? "IPv4" : "IPv6";
  }
}
