package de.metaleg.common.net;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;

/**
 * An IPv4 or IPv6 address as two longs (IPv4 in the low 32 bits of {@code lo}): cheap to hash,
 * compare and store by the hundred thousand. The controller and the agent parse every address they
 * read with it, so both accept the same texts and print the same canonical form.
 *
 * <p>Parsing accepts plain literals only and never looks a name up: no surrounding whitespace, no
 * leading zeros in IPv4 octets, no zone ids, brackets or prefixes, no IPv4-mapped IPv6 ({@code
 * ::ffff:a.b.c.d}). {@link #toString()} is the canonical text (dotted quad; RFC 5952 for IPv6:
 * lower case, the longest run of two or more zero groups as {@code ::}, the first on a tie), the
 * text {@code ipset save} and {@code nft list} print, so equal addresses always print equally.
 */
public record IpAddress(Family family, long hi, long lo) implements Comparable<IpAddress> {
  public IpAddress {
    if (family == null || family == Family.V4 && (hi != 0 || lo >>> 32 != 0)) {
      throw new IllegalArgumentException("not an address: " + family + " " + hi + " " + lo);
    }
  }

  /** The address {@code text} denotes, or empty when it is not a plain IPv4/IPv6 literal. */
  public static Optional<IpAddress> parse(String text) {
    if (text == null || text.isEmpty()) {
      return Optional.empty();
    }
    return text.indexOf(':') >= 0 ? parse6(text) : parse4(text);
  }

  /** The address {@code text} denotes if it is a literal of {@code family}. */
  public static Optional<IpAddress> parse(Family family, String text) {
    return parse(text).filter(a -> a.family == family);
  }

  private static Optional<IpAddress> parse4(String text) {
    long value = 0;
    int octets = 0;
    int i = 0;
    int n = text.length();
    while (i < n) {
      int start = i;
      int octet = 0;
      while (i < n && text.charAt(i) >= '0' && text.charAt(i) <= '9' && i - start < 3) {
        octet = octet * 10 + (text.charAt(i) - '0');
        i++;
      }
      boolean leadingZero = i - start > 1 && text.charAt(start) == '0';
      if (i == start || octet > 255 || leadingZero || octets == 4) {
        return Optional.empty();
      }
      value = (value << 8) | octet;
      octets++;
      if (i < n) {
        if (text.charAt(i) != '.' || i == n - 1) {
          return Optional.empty();
        }
        i++;
      }
    }
    return octets == 4 ? Optional.of(new IpAddress(Family.V4, 0, value)) : Optional.empty();
  }

  private static Optional<IpAddress> parse6(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean ok =
          (c >= '0' && c <= '9')
              || (c >= 'a' && c <= 'f')
              || (c >= 'A' && c <= 'F')
              || c == ':'
              || c == '.';
      if (!ok) {
        return Optional.empty(); // no zone ids, brackets, prefixes or whitespace
      }
    }
    if (text.charAt(0) == '.') {
      return Optional.empty(); // InetAddress would take this for a host name and look it up
    }
    try {
      // Hex digits, colons and dots starting with a hex digit or colon: InetAddress parses it as
      // a literal and never looks a name up.
      InetAddress a = InetAddress.getByName(text);
      if (!(a instanceof Inet6Address)) {
        return Optional.empty(); // IPv4-mapped forms are not accepted
      }
      byte[] b = a.getAddress();
      long hi = 0;
      long lo = 0;
      for (int i = 0; i < 8; i++) {
        hi = (hi << 8) | (b[i] & 0xff);
        lo = (lo << 8) | (b[i + 8] & 0xff);
      }
      return Optional.of(new IpAddress(Family.V6, hi, lo));
    } catch (UnknownHostException e) {
      return Optional.empty();
    }
  }

  public boolean isV4() {
    return family == Family.V4;
  }

  /** This address with the bits after the first {@code prefix} cleared: its network. */
  public IpAddress network(int prefix) {
    if (prefix < 0 || prefix > family.bits()) {
      throw new IllegalArgumentException("prefix out of range: " + prefix);
    }
    int hostBits = family.bits() - prefix; // IPv4 lives in lo, so hi keeps all its bits
    return new IpAddress(
        family, hi & ~lowBits(hostBits - 64), lo & ~lowBits(Math.min(hostBits, 64)));
  }

  private static long lowBits(int n) {
    return n <= 0 ? 0 : n >= 64 ? -1L : (1L << n) - 1;
  }

  @Override
  public int compareTo(IpAddress o) {
    int c = family.compareTo(o.family);
    if (c == 0) {
      c = Long.compareUnsigned(hi, o.hi);
    }
    return c != 0 ? c : Long.compareUnsigned(lo, o.lo);
  }

  @Override
  public String toString() {
    if (isV4()) {
      return ((lo >> 24) & 0xff)
          + "."
          + ((lo >> 16) & 0xff)
          + "."
          + ((lo >> 8) & 0xff)
          + "."
          + (lo & 0xff);
    }
    int[] groups = new int[8];
    for (int i = 0; i < 4; i++) {
      groups[i] = (int) ((hi >>> (48 - 16 * i)) & 0xffff);
      groups[i + 4] = (int) ((lo >>> (48 - 16 * i)) & 0xffff);
    }
    // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on a tie.
    int bestStart = -1;
    int bestLen = 1;
    for (int i = 0; i < 8; ) {
      if (groups[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && groups[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(groups[i]));
    }
    return sb.toString();
  }
}
