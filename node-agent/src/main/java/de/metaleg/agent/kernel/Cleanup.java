package de.metaleg.agent.kernel;

import de.metaleg.agent.model.MarkSpace;
import de.metaleg.agent.render.Names;
import de.metaleg.agent.render.NftPayloads;
import de.metaleg.agent.render.ObservedRoutes;
import de.metaleg.agent.render.RoutePayloads;
import de.metaleg.agent.render.Rules.PolicyRule;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --cleanup}: removes every MetalEG object for both families and both iptables flavours —
 * jumps and METALEG-* chains, the nftables table {@code inet metaleg}, ip rules and owned route
 * tables, metaleg-* sets — in that order (marks first, sets last). Only objects found in the
 * save/list output are touched, so it is idempotent and never loads a flavour's kernel modules that
 * were not in use.
 */
public final class Cleanup {
  private static final Logger LOG = LoggerFactory.getLogger(Cleanup.class);

  private Cleanup() {}

  /** Returns the problems met (empty when everything owned is gone). */
  public static List<String> run(CommandRunner runner, MarkSpace space) {
    List<String> problems = new ArrayList<>();
    for (IptablesFlavor flavor : IptablesFlavor.values()) {
      for (Family f : Family.values()) {
        CommandRunner.Result save = runner.run(List.of(flavor.save(f)));
        if (!save.ok()) {
          LOG.debug("{} not usable: {}", flavor.save(f), save.stderr().strip());
          continue;
        }
        String payload = removalPayload(save.stdout());
        if (payload.isEmpty()) {
          continue;
        }
        List<String> argv = List.of(flavor.restore(f), "-w", "5", "--noflush");
        CommandRunner.Result r = runner.run(argv, payload);
        if (!r.ok()) {
          problems.add(DataplaneException.of(argv, r, payload, flavor.iptables(f)).getMessage());
        } else {
          LOG.info("removed MetalEG chains and jumps ({})", flavor.save(f));
        }
      }
    }
    removeNftTable(runner, problems);
    KernelReader reader = new KernelReader(runner);
    for (Family f : Family.values()) {
      ObservedRoutes routes;
      try {
        routes = reader.routes(f, space);
      } catch (DataplaneException e) {
        problems.add(e.getMessage());
        continue;
      }
      StringBuilder batch = new StringBuilder();
      for (PolicyRule r : routes.rules()) {
        batch.append("rule del ").append(RoutePayloads.ruleSpec(r)).append('\n');
      }
      for (long t : new TreeSet<>(routes.tables())) {
        batch.append("route flush table ").append(t).append('\n');
      }
      if (batch.length() > 0) {
        List<String> argv = List.of("ip", f.ipFlag(), "-force", "-batch", "-");
        CommandRunner.Result r = runner.run(argv, batch.toString());
        if (!r.ok()) {
          problems.add(
              DataplaneException.of(argv, r, batch.toString(), "ip " + f.ipFlag()).getMessage());
        }
      }
    }
    CommandRunner.Result list = runner.run(List.of("ipset", "list", "-n"));
    if (list.ok()) {
      StringBuilder destroy = new StringBuilder();
      list.stdout()
          .lines()
          .filter(n -> n.startsWith(Names.SET_PREFIX))
          .sorted()
          .forEach(n -> destroy.append("destroy ").append(n).append('\n'));
      if (destroy.length() > 0) {
        List<String> argv = List.of("ipset", "restore");
        CommandRunner.Result r = runner.run(argv, destroy.toString());
        if (!r.ok()) {
          problems.add(DataplaneException.of(argv, r, destroy.toString(), "ipset").getMessage());
        }
      }
    } else {
      problems.add("`ipset list -n` failed: " + list.stderr().strip());
    }
    return problems;
  }

  /** Deletes {@code table inet metaleg} if it exists (and nothing when nft is not installed). */
  private static void removeNftTable(CommandRunner runner, List<String> problems) {
    CommandRunner.Result tables = runner.run(List.of("nft", "list", "tables"));
    if (!tables.ok()) {
      LOG.debug("nft not usable: {}", tables.stderr().strip());
      return;
    }
    if (tables.stdout().lines().noneMatch(l -> l.strip().equals("table " + NftPayloads.T))) {
      return;
    }
    List<String> argv = List.of("nft", "delete", "table", NftPayloads.FAMILY, NftPayloads.TABLE);
    CommandRunner.Result r = runner.run(argv);
    if (!r.ok()) {
      problems.add(DataplaneException.of(argv, r, null, "").getMessage());
    } else {
      LOG.info("removed nft table {}", NftPayloads.T);
    }
  }

  /**
   * Pure: from {@code iptables-save} output, a restore payload deleting every jump to a METALEG-*
   * chain, then flushing and deleting those chains, table by table.
   */
  public static String removalPayload(String save) {
    Map<String, List<String>> deletes = new LinkedHashMap<>();
    Map<String, List<String>> chains = new LinkedHashMap<>();
    String table = null;
    for (String line : save.split("\n")) {
      if (line.startsWith("*")) {
        table = line.substring(1).trim();
      } else if (table != null && line.startsWith(":" + Names.CHAIN_PREFIX)) {
        chains.computeIfAbsent(table, t -> new ArrayList<>()).add(line.substring(1).split(" ")[0]);
      } else if (table != null
          && line.startsWith("-A ")
          && !line.startsWith("-A " + Names.CHAIN_PREFIX)
          && line.matches(".* -j " + Names.CHAIN_PREFIX + "\\S+\\s*$")) {
        deletes.computeIfAbsent(table, t -> new ArrayList<>()).add("-D " + line.substring(3));
      }
    }
    StringBuilder b = new StringBuilder();
    for (String t : new TreeSet<>(union(deletes.keySet(), chains.keySet()))) {
      b.append('*').append(t).append('\n');
      deletes.getOrDefault(t, List.of()).forEach(d -> b.append(d).append('\n'));
      chains.getOrDefault(t, List.of()).forEach(c -> b.append(':').append(c).append(" - [0:0]\n"));
      chains.getOrDefault(t, List.of()).forEach(c -> b.append("-X ").append(c).append('\n'));
      b.append("COMMIT\n");
    }
    return b.toString();
  }

  private static TreeSet<String> union(java.util.Set<String> a, java.util.Set<String> b) {
    TreeSet<String> s = new TreeSet<>(a);
    s.addAll(b);
    return s;
  }
}
