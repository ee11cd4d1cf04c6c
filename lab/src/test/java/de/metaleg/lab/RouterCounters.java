package de.metaleg.lab;

import java.util.Map;
import java.util.TreeMap;

/**
 * The router's packet counters for the external host ({@code lab-net.sh counters}, nft table {@code
 * inet megl_count}): {@code from_*} per source range on any port, {@code flow_*} per source on the
 * long-lived flows' port.
 */
final class RouterCounters {
  private RouterCounters() {}

  static Map<String, Long> read() {
    Map<String, Long> m = new TreeMap<>();
    Cmd.run("bash", Lab.LAB_NET.toString(), "counters")
        .orThrow()
        .output()
        .lines()
        .map(l -> l.trim().split("\\s+"))
        .filter(f -> f.length == 2)
        .forEach(f -> m.put(f[0], Long.parseLong(f[1])));
    return m;
  }

  static void reset() {
    Cmd.run("bash", Lab.LAB_NET.toString(), "counters", "reset").orThrow();
  }

  static Map<String, Long> diff(Map<String, Long> later, Map<String, Long> earlier) {
    Map<String, Long> d = new TreeMap<>();
    later.forEach((k, v) -> d.put(k, v - earlier.getOrDefault(k, 0L)));
    return d;
  }

  /** Packets that must never arrive: any pod source, or a node source on the flows' port. */
  static long leaked(Map<String, Long> c) {
    return c.entrySet().stream()
        .filter(e -> e.getKey().startsWith("from_pod_") || e.getKey().matches("flow_n\\d+_v[46]"))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }
}
