package de.metaleg.agent.render;

import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One connection-tracking entry as {@code conntrack -L -f ipv4|ipv6} prints it: the original tuple
 * (who opened the flow, to whom) and the reply tuple (where replies go: for an SNATed flow its
 * destination is the SNAT address; for a DNATed one its source is the real server).
 *
 * @param protocol as printed: tcp, udp, icmp, icmpv6, sctp, …
 * @param keys the tuple keys of the original direction that identify the entry besides the
 *     addresses, as {@code conntrack -D} options (e.g. {@code --sport 40000 --dport 8080}); empty
 *     for protocols without ports or ids
 */
public record ConntrackEntry(
    Family family,
    String protocol,
    String origSrc,
    String origDst,
    String replySrc,
    String replyDst,
    List<String> keys) {
  public ConntrackEntry {
    keys = List.copyOf(keys);
  }

  /** True when replies go back to the original source: no SNAT (a null binding or none yet). */
  public boolean sourceUnchanged() {
    return replyDst.equals(origSrc);
  }

  /** True when replies come from the original destination: no DNAT. */
  public boolean destinationUnchanged() {
    return replySrc.equals(origDst);
  }

  /** The {@code conntrack -R} line that deletes exactly this entry. */
  public String deleteLine() {
    StringBuilder b = new StringBuilder(flowLine());
    keys.forEach(k -> b.append(' ').append(k));
    return b.toString();
  }

  /**
   * The {@code conntrack -R} line that deletes every entry of this protocol from this source to
   * this destination (whatever the ports).
   */
  public String flowLine() {
    return new StringBuilder("-D -f ")
        .append(family == Family.V4 ? "ipv4" : "ipv6")
        .append(" -p ")
        .append(protocol)
        .append(" -s ")
        .append(origSrc)
        .append(" -d ")
        .append(origDst)
        .toString();
  }

  /**
   * Parses one line of {@code conntrack -L} output, e.g. {@code tcp 6 431999 ESTABLISHED
   * src=10.244.1.10 dst=203.0.113.10 sport=40000 dport=8080 src=203.0.113.10 dst=198.51.100.10
   * sport=8080 dport=40000 [ASSURED] mark=0 use=1}. Lines that are not entries give empty.
   */
  public static Optional<ConntrackEntry> parse(Family family, String line) {
    String[] f = line.trim().split("\\s+");
    if (f.length < 4 || !f[1].matches("\\d+")) {
      return Optional.empty();
    }
    List<String> src = new ArrayList<>();
    List<String> dst = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    for (String t : f) {
      int eq = t.indexOf('=');
      if (eq < 0) {
        continue;
      }
      String k = t.substring(0, eq);
      String v = t.substring(eq + 1);
      switch (k) {
        case "src" -> src.add(v);
        case "dst" -> dst.add(v);
        case "sport", "dport", "type", "code", "id" -> {
          if (src.size() == 1 && dst.size() == 1) { // original direction only
            keys.add(option(f[0], k) + " " + v);
          }
        }
        default -> {}
      }
    }
    if (src.size() < 2 || dst.size() < 2) {
      return Optional.empty();
    }
    return Optional.of(
        new ConntrackEntry(family, f[0], src.get(0), dst.get(0), src.get(1), dst.get(1), keys));
  }

  private static String option(String protocol, String key) {
    return switch (key) {
      case "sport", "dport" -> "--" + key;
      default -> (protocol.equals("icmpv6") ? "--icmpv6-" : "--icmp-") + key;
    };
  }
}
