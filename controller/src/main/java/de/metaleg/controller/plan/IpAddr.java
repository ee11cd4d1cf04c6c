package de.metaleg.controller.plan;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;

/**
 * An IPv4 or IPv6 address as two longs: cheap to hash, compare and store by the hundred thousand.
 * Parsing accepts only literals (never a DNS lookup); {@link #toString()} is the canonical text
 * (dotted quad, RFC 5952 for IPv6), so equal addresses always print equally.
 */
public record IpAddr(Family family, long hi, long lo) implements Comparable<IpAddr> {
  public enum Family {
    IPv4,
    IPv6
  }

  /** The address {@code text} denotes, or empty when it is not a plain IPv4/IPv6 literal. */
  public static Optional<IpAddr> parse(String text) {
    if (text == null || text.isEmpty()) {
      return Optional.empty();
    }
    return text.indexOf(':') >= 0 ? parse6(text) : parse4(text);
  }

  private static Optional<IpAddr> parse4(String text) {
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
    return octets == 4 ? Optional.of(new IpAddr(Family.IPv4, 0, value)) : Optional.empty();
  }

  private static Optional<IpAddr> parse6(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean ok =
          (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':';
      if (!ok && c != '.') {
        return Optional.empty(); // no zone ids, brackets or prefixes
      }
    }
    try {
      // A string of hex digits, colons and dots is a literal: no name lookup happens.
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
      return Optional.of(new IpAddr(Family.IPv6, hi, lo));
    } catch (UnknownHostException e) {
      return Optional.empty();
    }
  }

  public boolean isV4() {
    return family == Family.IPv4;
  }

  @Override
  public int compareTo(IpAddr o) {
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
