package de.metaleg.agent.model;

import java.util.Optional;

/** A network prefix in canonical form (host bits cleared), as {@code ipset save} prints it. */
public record Cidr(Family family, String network, int prefix) {
  public Cidr {
    if (prefix < 0 || prefix > family.bits()) {
      throw new IllegalArgumentException("prefix out of range: " + prefix);
    }
  }

  /** Parses {@code addr/len} (or a bare address) of either family. */
  public static Optional<Cidr> parse(String text) {
    String t = text.trim();
    int slash = t.indexOf('/');
    String addr = slash < 0 ? t : t.substring(0, slash);
    Family family = addr.contains(":") ? Family.V6 : Family.V4;
    Optional<byte[]> bytes = IpAddresses.bytes(family, addr);
    if (bytes.isEmpty()) {
      return Optional.empty();
    }
    int prefix;
    if (slash < 0) {
      prefix = family.bits();
    } else {
      String len = t.substring(slash + 1);
      if (!len.matches("\\d{1,3}")) {
        return Optional.empty();
      }
      prefix = Integer.parseInt(len);
      if (prefix > family.bits()) {
        return Optional.empty();
      }
    }
    byte[] b = bytes.get();
    for (int bit = prefix; bit < family.bits(); bit++) {
      b[bit / 8] &= (byte) ~(0x80 >> (bit % 8));
    }
    return Optional.of(new Cidr(family, IpAddresses.format(family, b), prefix));
  }

  /** {@code net/len}; a host prefix is written as the bare address, as ipset does. */
  public String text() {
    return prefix == family.bits() ? network : network + "/" + prefix;
  }

  /** Whether {@code ip} (a literal of this prefix's family) lies inside this prefix. */
  public boolean contains(String ip) {
    Optional<byte[]> a = IpAddresses.bytes(family, ip);
    Optional<byte[]> n = IpAddresses.bytes(family, network);
    if (a.isEmpty() || n.isEmpty()) {
      return false;
    }
    for (int bit = 0; bit < prefix; bit++) {
      int mask = 0x80 >> (bit % 8);
      if ((a.get()[bit / 8] & mask) != (n.get()[bit / 8] & mask)) {
        return false;
      }
    }
    return true;
  }
}
