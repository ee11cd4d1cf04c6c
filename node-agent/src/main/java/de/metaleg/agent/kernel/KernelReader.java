package de.metaleg.agent.kernel;

import de.metaleg.agent.model.MarkSpace;
import de.metaleg.agent.render.IptablesPayloads;
import de.metaleg.agent.render.Names;
import de.metaleg.agent.render.ObservedRoutes;
import de.metaleg.agent.render.ObservedSet;
import de.metaleg.agent.render.Rules.PolicyRule;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads MetalEG's objects back from the kernel, one command per object kind and family. */
public final class KernelReader {
  private static final Pattern RULE =
      Pattern.compile(
          "^(\\d+):\\s+from all fwmark (0x[0-9a-f]+)/(0x[0-9a-f]+) lookup (\\d+)(\\s.*)?$");
  private static final Pattern ROUTE_TABLE = Pattern.compile("\\btable (\\d+)\\b");
  private static final Pattern DEFAULT_VIA = Pattern.compile("^default via (\\S+)");

  /** What iptables-save shows of MetalEG in one family. */
  /**
   * @param jumpPositions per table, the 1-based position of our jump in its built-in chain (absent
   *     = no jump); it must be 1 so nothing else (a CNI's masquerade or accept) comes first
   */
  public record ObservedFirewall(
      Family family, Map<String, Integer> chainRuleCounts, Map<String, Integer> jumpPositions) {
    public Set<String> tablesWithJump() {
      return jumpPositions.keySet();
    }
  }

  private final CommandRunner runner;

  public KernelReader(CommandRunner runner) {
    this.runner = runner;
  }

  /** All sets named metaleg-*, from one {@code ipset save}. */
  public Map<String, ObservedSet> sets() {
    CommandRunner.Result r = runner.run(List.of("ipset", "save"));
    if (!r.ok()) {
      throw new DataplaneException("`ipset save` failed: " + r.stderr().strip());
    }
    return parseIpsetSave(r.stdout());
  }

  public static Map<String, ObservedSet> parseIpsetSave(String text) {
    Map<String, String[]> headers = new LinkedHashMap<>();
    Map<String, List<String>> members = new HashMap<>();
    int pos = 0;
    int n = text.length();
    while (pos < n) {
      int eol = text.indexOf('\n', pos);
      if (eol < 0) {
        eol = n;
      }
      // lines look like "add NAME MEMBER" or "create NAME TYPE family F ..."
      if (text.startsWith("add " + Names.SET_PREFIX, pos)) {
        int nameEnd = text.indexOf(' ', pos + 4);
        if (nameEnd > 0 && nameEnd < eol) {
          int memberEnd = text.indexOf(' ', nameEnd + 1);
          memberEnd = memberEnd < 0 || memberEnd > eol ? eol : memberEnd;
          members
              .computeIfAbsent(text.substring(pos + 4, nameEnd), k -> new ArrayList<>())
              .add(text.substring(nameEnd + 1, memberEnd).trim());
        }
      } else if (text.startsWith("create " + Names.SET_PREFIX, pos)) {
        String[] p = text.substring(pos, eol).trim().split(" +");
        String family = "inet";
        for (int i = 3; i + 1 < p.length; i++) {
          if (p[i].equals("family")) {
            family = p[i + 1];
          }
        }
        headers.put(p[1], new String[] {p[2], family});
      }
      pos = eol + 1;
    }
    Map<String, ObservedSet> out = new TreeMap<>();
    headers.forEach(
        (name, h) ->
            out.put(
                name,
                new ObservedSet(
                    name,
                    h[0],
                    h[1].equals("inet6") ? Family.V6 : Family.V4,
                    members.getOrDefault(name, List.of()))));
    return out;
  }

  /**
   * The canary's view of the sets: per set named metaleg-*, its number of entries, from one {@code
   * ipset list -t} (headers only, no members; ~16 ms of CPU for 2,000 sets).
   */
  public Map<String, Integer> setSizes() {
    CommandRunner.Result r = runner.run(List.of("ipset", "list", "-t"));
    if (!r.ok()) {
      throw new DataplaneException("`ipset list -t` failed: " + r.stderr().strip());
    }
    return parseIpsetHeaders(r.stdout());
  }

  public static Map<String, Integer> parseIpsetHeaders(String text) {
    Map<String, Integer> out = new TreeMap<>();
    String name = null;
    for (String line : text.split("\n")) {
      if (line.startsWith("Name: ")) {
        name = line.substring(6).strip();
      } else if (line.startsWith("Number of entries: ") && name != null) {
        if (name.startsWith(Names.SET_PREFIX)) {
          out.put(name, Integer.parseInt(line.substring(19).strip()));
        }
        name = null;
      }
    }
    return out;
  }

  /**
   * The {@code -A CHAIN ...} lines of one chain, from {@code iptables -t TABLE -S CHAIN}: only that
   * chain is fetched (iptables-nft), never the whole table; empty when the chain does not exist.
   */
  public Optional<List<String>> chain(IptablesFlavor flavor, Family f, String table, String chain) {
    return listChain(flavor, f, table, chain, List.of());
  }

  /** The first rule of a chain ({@code iptables -t TABLE -S CHAIN 1}), empty if it has none. */
  public Optional<String> firstRule(IptablesFlavor flavor, Family f, String table, String chain) {
    return listChain(flavor, f, table, chain, List.of("1"))
        .flatMap(rules -> rules.stream().findFirst());
  }

  private Optional<List<String>> listChain(
      IptablesFlavor flavor, Family f, String table, String chain, List<String> rest) {
    List<String> argv =
        new ArrayList<>(List.of(flavor.iptables(f), "-w", "5", "-t", table, "-S", chain));
    argv.addAll(rest);
    CommandRunner.Result r = runner.run(argv);
    if (!r.ok()) {
      String err = r.stderr();
      if (r.exit() == 1
          && (err.contains("No chain") // legacy
              || err.contains("does not exist")
              || err.contains("is incompatible"))) { // iptables-nft 1.8.9 for a missing chain
        return Optional.empty();
      }
      throw new DataplaneException("`" + String.join(" ", argv) + "` failed: " + err.strip());
    }
    return Optional.of(r.stdout().lines().filter(l -> l.startsWith("-A ")).toList());
  }

  /**
   * The canary's view of routing, from one {@code ip -j -batch -} per family: {@code rule show}
   * (our rules) and {@code route show table T} for the given tables only (their default gateways),
   * one JSON array per line, instead of every route of every table.
   */
  public ObservedRoutes routes(Family f, MarkSpace space, Set<Long> tables) {
    List<Long> order = new ArrayList<>(new TreeSet<>(tables));
    StringBuilder batch = new StringBuilder("rule show\n");
    order.forEach(t -> batch.append("route show table ").append(t).append('\n'));
    List<String> argv = List.of("ip", "-j", f.ipFlag(), "-batch", "-");
    CommandRunner.Result r = runner.run(argv, batch.toString());
    if (!r.ok()) {
      throw DataplaneException.of(argv, r, batch.toString(), "ip " + f.ipFlag());
    }
    List<String> arrays = r.stdout().lines().filter(l -> l.startsWith("[")).toList();
    List<PolicyRule> rules = arrays.isEmpty() ? List.of() : parseJsonRules(f, space, arrays.get(0));
    Map<Long, String> gateways =
        parseTableGateways(
            order, String.join("\n", arrays.subList(Math.min(1, arrays.size()), arrays.size())));
    return new ObservedRoutes(f, gateways.keySet(), gateways, rules);
  }

  private static final Pattern JSON_RULE =
      Pattern.compile(
          "\\{\"priority\":(\\d+),\"src\":\"all\",\"fwmark\":\"(0x[0-9a-f]+)\",\"fwmask\":\"(0x[0-9a-f]+)\",\"table\":\"(\\d+)\"[^{}]*\\}");

  /** Pure: the owned rules (our priority, table in range) of {@code ip -j rule show}. */
  public static List<PolicyRule> parseJsonRules(Family f, MarkSpace space, String json) {
    List<PolicyRule> owned = new ArrayList<>();
    Matcher m = JSON_RULE.matcher(json);
    while (m.find()) {
      long table = Long.parseLong(m.group(4));
      int prio = Integer.parseInt(m.group(1));
      if (prio == Names.RULE_PRIORITY && space.ownsTable(table)) {
        owned.add(new PolicyRule(f, Long.decode(m.group(2)), Long.decode(m.group(3)), table, prio));
      }
    }
    return owned;
  }

  private static final Pattern JSON_DEFAULT =
      Pattern.compile("\\{\"dst\":\"default\",\"gateway\":\"([^\"]+)\"");

  /** Pure: one JSON array per table in {@code order}; a table's default gateway, if any. */
  public static Map<Long, String> parseTableGateways(List<Long> order, String json) {
    Map<Long, String> out = new HashMap<>();
    List<String> arrays = json.lines().filter(l -> l.startsWith("[")).toList();
    for (int i = 0; i < order.size() && i < arrays.size(); i++) {
      Matcher m = JSON_DEFAULT.matcher(arrays.get(i));
      if (m.find()) {
        out.put(order.get(i), m.group(1));
      }
    }
    return out;
  }

  /** Owned ip rules (our priority, table in range) and owned tables' routes of one family. */
  public ObservedRoutes routes(Family f, MarkSpace space) {
    CommandRunner.Result rules = runner.run(List.of("ip", f.ipFlag(), "rule", "show"));
    CommandRunner.Result routes =
        runner.run(List.of("ip", f.ipFlag(), "route", "show", "table", "all"));
    if (!rules.ok() || !routes.ok()) {
      throw new DataplaneException(
          "`ip "
              + f.ipFlag()
              + " rule show` / `route show table all` failed: "
              + rules.stderr()
              + routes.stderr());
    }
    return parseRoutes(f, space, rules.stdout(), routes.stdout());
  }

  public static ObservedRoutes parseRoutes(Family f, MarkSpace space, String rules, String routes) {
    List<PolicyRule> owned = new ArrayList<>();
    for (String line : rules.split("\n")) {
      Matcher m = RULE.matcher(line.trim());
      if (m.matches()) {
        long table = Long.parseLong(m.group(4));
        int prio = Integer.parseInt(m.group(1));
        if (prio == Names.RULE_PRIORITY && space.ownsTable(table)) {
          owned.add(
              new PolicyRule(f, Long.decode(m.group(2)), Long.decode(m.group(3)), table, prio));
        }
      }
    }
    Set<Long> tables = new HashSet<>();
    Map<Long, String> gateways = new HashMap<>();
    for (String line : routes.split("\n")) {
      Matcher t = ROUTE_TABLE.matcher(line);
      if (!t.find()) {
        continue;
      }
      long table = Long.parseLong(t.group(1));
      if (!space.ownsTable(table)) {
        continue;
      }
      tables.add(table);
      Matcher d = DEFAULT_VIA.matcher(line.trim());
      if (d.find()) {
        gateways.put(table, d.group(1));
      }
    }
    return new ObservedRoutes(f, tables, gateways, owned);
  }

  /** Rule counts of owned chains (absent = chain missing) and which tables jump to them. */
  public ObservedFirewall firewall(IptablesFlavor flavor, Family f) {
    CommandRunner.Result r = runner.run(List.of(flavor.save(f)));
    if (!r.ok()) {
      throw new DataplaneException("`" + flavor.save(f) + "` failed: " + r.stderr().strip());
    }
    return parseIptablesSave(f, r.stdout());
  }

  public static ObservedFirewall parseIptablesSave(Family f, String text) {
    Map<String, Integer> counts = new TreeMap<>();
    Map<String, Integer> jumps = new TreeMap<>();
    Map<String, Integer> builtinRules = new HashMap<>();
    String table = "";
    for (String line : text.split("\n")) {
      if (line.startsWith("*")) {
        table = line.substring(1).trim();
      } else if (isOurBuiltin(table, line)) {
        int position = builtinRules.merge(table, 1, Integer::sum);
        if (line.matches(".* -j " + Names.CHAIN_PREFIX + "\\S+\\s*$")) {
          jumps.putIfAbsent(table, position);
        }
      } else if (line.startsWith(":" + Names.CHAIN_PREFIX)) {
        counts.putIfAbsent(table + "/" + line.substring(1).split(" ")[0], 0);
      } else if (line.startsWith("-A " + Names.CHAIN_PREFIX)) {
        counts.merge(table + "/" + line.split(" ")[1], 1, Integer::sum);
      }
    }
    return new ObservedFirewall(f, counts, jumps);
  }

  /** A rule of the built-in chain our jump lives in, in this table (e.g. nat POSTROUTING). */
  private static boolean isOurBuiltin(String table, String line) {
    return IptablesPayloads.JUMPS.stream()
        .anyMatch(j -> j.table().equals(table) && line.startsWith("-A " + j.builtin() + " "));
  }

  /** The {@code -A METALEG-...} rule lines of one family. */
  public List<String> ownedRules(IptablesFlavor flavor, Family f) {
    CommandRunner.Result r = runner.run(List.of(flavor.save(f)));
    if (!r.ok()) {
      throw new DataplaneException("`" + flavor.save(f) + "` failed: " + r.stderr().strip());
    }
    return r.stdout().lines().filter(l -> l.startsWith("-A " + Names.CHAIN_PREFIX)).toList();
  }
}
