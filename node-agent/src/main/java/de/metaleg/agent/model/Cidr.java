package de.metaleg.agent.model;

import de.metaleg.common.net.Family;
import de.metaleg.common.net.IpAddress;
import java.util.Optional;

/** A network prefix in canonical form (host bits cleared), as {@code ipset save} prints it. */
public record Cidr(IpAddress network, int prefix) {
  public Cidr {
    if (prefix < 0 || prefix > network.family().bits()) {
      throw new IllegalArgumentException("prefix out of range: " + prefix);
    }
    network = network.network(prefix);
  }

  /**
   * Parses {@code addr/len} (or a bare address) of either family; whitespace around the whole text
   * is ignored (it comes from a comma-separated list), inside it is not.
   */
  public static Optional<Cidr> parse(String text) {
    String t = text.trim();
    int slash = t.indexOf('/');
    Optional<IpAddress> addr = IpAddress.parse(slash < 0 ? t : t.substring(0, slash));
    if (addr.isEmpty()) {
      return Optional.empty();
    }
    int bits = addr.get().family().bits();
    if (slash < 0) {
      return Optional.of(new Cidr(addr.get(), bits));
    }
    String len = t.substring(slash + 1);
    if (!len.matches("\\d{1,3}") || Integer.parseInt(len) > bits) {
      return Optional.empty();
    }
    return Optional.of(new Cidr(addr.get(), Integer.parseInt(len)));
  }

  public Family family() {
    return network.family();
  }

  /** {@code net/len}; a host prefix is written as the bare address, as ipset does. */
  public String text() {
    return prefix == family().bits() ? network.toString() : network + "/" + prefix;
  }

  /** Whether {@code ip} (a literal of this prefix's family) lies inside this prefix. */
  public boolean contains(String ip) {
    return IpAddress.parse(family(), ip).map(a -> a.network(prefix).equals(network)).orElse(false);
  }
}
