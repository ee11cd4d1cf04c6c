package de.metaleg.agent.render;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Pure: the packet counters of the guard rules, per {@link Guard} label, from the listing of
 * MetalEG's forward chain, and their running totals across chain rewrites (a rewrite resets a
 * rule's counter to 0).
 */
public final class GuardCounters {
  private static final Pattern IPTABLES =
      Pattern.compile("^\\s*(\\d+)\\s+\\d+\\s+DROP\\b.*/\\* metaleg guard (\\S+)[^*]*\\*/");
  private static final Pattern NFT =
      Pattern.compile("counter packets (\\d+) bytes \\d+ drop comment \"metaleg guard (\\S+?)\"");

  private final Map<String, Long> base = new TreeMap<>();
  private final Map<String, Long> last = new TreeMap<>();

  /** {@code iptables -t filter -L METALEG-FORWARD -v -x -n} output, added to {@code into}. */
  public static Map<String, Long> fromIptables(String listing, Map<String, Long> into) {
    for (String line : listing.split("\n")) {
      Matcher m = IPTABLES.matcher(line);
      if (m.find()) {
        into.merge(m.group(2), Long.parseLong(m.group(1)), Long::sum);
      }
    }
    return into;
  }

  /** {@code nft list chain inet metaleg forward} output. */
  public static Map<String, Long> fromNft(String listing) {
    Map<String, Long> out = new TreeMap<>();
    Matcher m = NFT.matcher(listing);
    while (m.find()) {
      out.merge(m.group(2), Long.parseLong(m.group(1)), Long::sum);
    }
    return out;
  }

  /**
   * Folds a new reading into the totals: a counter below its last reading was reset by a rewrite of
   * the chain, so the last reading is kept as a base (drops between that reading and the rewrite
   * are not seen).
   */
  public synchronized Map<String, Long> update(Map<String, Long> reading) {
    Map<String, Long> totals = new TreeMap<>();
    for (Guard g : Guard.values()) {
      String k = g.label();
      long now = reading.getOrDefault(k, 0L);
      long before = last.getOrDefault(k, 0L);
      if (now < before) {
        base.merge(k, before, Long::sum);
      }
      last.put(k, now);
      totals.put(k, base.getOrDefault(k, 0L) + now);
    }
    return totals;
  }
}
