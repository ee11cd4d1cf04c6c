package de.metaleg.lab;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * MetalEG's kernel state in one node namespace, by the names the agent owns: chains METALEG-*,
 * ipsets metaleg-*, nft tables named metaleg*, ip rules at priority 10000, route tables from
 * ROUTE_TABLE_ID_OFFSET (100000) up.
 */
final class NodeState {
  private static final Pattern OUR_TABLE = Pattern.compile("\\btable (1\\d{5,})\\b");

  private NodeState() {}

  /** Every MetalEG object found, one line each (empty = clean). */
  static List<String> leftovers(String ns) {
    List<String> found = new ArrayList<>();
    for (String save :
        List.of(
            "iptables-save", "ip6tables-save", "iptables-legacy-save", "ip6tables-legacy-save")) {
      Cmd.Result r = Cmd.inNs(ns, save);
      if (r.ok()) {
        r.output()
            .lines()
            .filter(l -> l.toUpperCase().contains("METALEG"))
            .forEach(l -> found.add(save + ": " + l));
      }
    }
    Cmd.inNs(ns, "ipset", "list", "-n")
        .output()
        .lines()
        .filter(l -> l.startsWith("metaleg"))
        .forEach(l -> found.add("ipset: " + l));
    Cmd.inNs(ns, "nft", "list", "tables")
        .output()
        .lines()
        .filter(l -> l.toLowerCase().contains("metaleg"))
        .forEach(l -> found.add("nft: " + l));
    for (String family : List.of("-4", "-6")) {
      Cmd.inNs(ns, "ip", family, "rule", "show")
          .output()
          .lines()
          .filter(l -> l.startsWith("10000:") || OUR_TABLE.matcher(l).find())
          .forEach(l -> found.add("ip " + family + " rule: " + l));
      Cmd.inNs(ns, "ip", family, "route", "show", "table", "all")
          .output()
          .lines()
          .filter(l -> OUR_TABLE.matcher(l).find())
          .forEach(l -> found.add("ip " + family + " route: " + l));
    }
    return found;
  }

  /** Per-Service state only: rules/routes and source sets (base chains may stay). */
  static List<String> serviceState(String ns, List<String> serviceAddresses) {
    List<String> found = new ArrayList<>();
    for (String l : leftovers(ns)) {
      boolean perService =
          l.startsWith("ip -4 rule")
              || l.startsWith("ip -6 rule")
              || l.startsWith("ip -4 route")
              || l.startsWith("ip -6 route")
              || l.contains("metaleg-src")
              || serviceAddresses.stream().anyMatch(l::contains);
      if (perService) {
        found.add(l);
      }
    }
    return found;
  }
}
