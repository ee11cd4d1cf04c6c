package de.metaleg.agent.model;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Strict parsing of IP literals into the canonical text the kernel tools print (dotted quad; RFC
 * 5952 for IPv6), so rendered payloads compare equal to what {@code ipset save} reads back. Never
 * resolves names.
 */
public final class IpAddresses {
  private static final Pattern V4 =
      Pattern.compile(
          "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
  private static final Pattern V6_CHARS = Pattern.compile("[0-9a-fA-F:.]+");

  private IpAddresses() {}

  /** The canonical form of {@code text} if it is a literal of {@code family}. */
  public static Optional<String> canonical(Family family, String text) {
    return bytes(family, text).map(b -> format(family, b));
  }

  /** The address bytes (4 or 16) if {@code text} is a literal of {@code family}. */
  public static Optional<byte[]> bytes(Family family, String text) {
    if (text == null) {
      return Optional.empty();
    }
    String t = text.trim();
    if (family == Family.V4) {
      if (!V4.matcher(t).matches()) {
        return Optional.empty();
      }
      String[] parts = t.split("\\.");
      byte[] b = new byte[4];
      for (int i = 0; i < 4; i++) {
        b[i] = (byte) Integer.parseInt(parts[i]);
      }
      return Optional.of(b);
    }
    if (!t.contains(":") || !V6_CHARS.matcher(t).matches()) {
      return Optional.empty();
    }
    try {
      InetAddress a = InetAddress.getByName(t); // a literal: no name lookup happens
      return a instanceof Inet6Address ? Optional.of(a.getAddress()) : Optional.empty();
    } catch (UnknownHostException e) {
      return Optional.empty();
    }
  }

  /** Dotted quad, or RFC 5952 (lower case, longest run of two or more zero groups as ::). */
  public static String format(Family family, byte[] b) {
    if (family == Family.V4) {
      return (b[0] & 0xff) + "." + (b[1] & 0xff) + "." + (b[2] & 0xff) + "." + (b[3] & 0xff);
    }
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLen = 0;
    for (int i = 0; i < 8; ) {
      if (g[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    if (bestLen < 2) {
      bestStart = -1;
    }
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        s.append(i == 0 ? "::" : ":");
        i += bestLen - 1;
        continue;
      }
      s.append(Integer.toHexString(g[i]));
      if (i < 7) {
        s.append(':');
      }
    }
    return s.toString();
  }
}
