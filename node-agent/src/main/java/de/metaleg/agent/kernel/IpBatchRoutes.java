package de.metaleg.agent.kernel;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.MarkSpace;
import de.metaleg.agent.render.DesiredState;
import de.metaleg.agent.render.GatewayFamily;
import de.metaleg.agent.render.MarkAllocator;
import de.metaleg.agent.render.ObservedRoutes;
import de.metaleg.agent.render.RoutePayloads;
import de.metaleg.agent.render.Rules.PolicyRule;
import de.metaleg.agent.render.Rules.RouteSpec;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ROUTE_BACKEND=netlink (the value users set; the code drives the {@code ip} tool, not a netlink
 * socket), shared by both firewall backends: ip rules and per-gateway route tables via one {@code
 * ip -batch} per family. {@link #install} runs before the firewall transaction that sets marks,
 * {@link #removeStale} after it, so no packet is ever marked for a table without a route.
 */
final class IpBatchRoutes {
  private static final Logger LOG = LoggerFactory.getLogger(IpBatchRoutes.class);
  private static final Pattern BATCH_FAILED = Pattern.compile("Command failed \\S*:(\\d+)");

  /**
   * What {@link #install} did: gateway families whose route failed (their Forward entries must be
   * rendered as rejects) and the routing state including what was just added.
   */
  record Installed(Set<GatewayFamily> unroutable, Map<Family, ObservedRoutes> touched) {}

  private final CommandRunner runner;
  private final MarkSpace space;
  private final KernelReader reader;

  IpBatchRoutes(CommandRunner runner, MarkSpace space) {
    this.runner = runner;
    this.space = space;
    this.reader = new KernelReader(runner);
  }

  Map<Family, ObservedRoutes> read() {
    Map<Family, ObservedRoutes> routes = new EnumMap<>(Family.class);
    for (Family f : Family.values()) {
      routes.put(f, reader.routes(f, space));
    }
    return routes;
  }

  /**
   * The gateway node → mark index allocation for {@code plan}: kept from {@code previous}, or (on
   * the first sync, {@code previous == null}) recovered from the route tables in the kernel.
   */
  Map<String, Integer> allocate(
      Map<String, Integer> previous, Map<Family, ObservedRoutes> routes, DesiredPlan plan) {
    if (previous == null) {
      Map<Family, Map<Long, String>> gws = new EnumMap<>(Family.class);
      routes.forEach((f, r) -> gws.put(f, r.defaultGateways()));
      previous = MarkAllocator.recover(gws, plan, space);
      LOG.info("adopted gateway marks from the kernel: {}", previous);
    }
    return MarkAllocator.allocate(previous, MarkAllocator.gatewayNodes(plan), space.maxIndex());
  }

  /** Routes, then ip rules, per family; a failing route line makes its gateway unroutable. */
  Installed install(
      DesiredState state,
      Map<Family, ObservedRoutes> routes,
      Map<String, Integer> allocation,
      List<String> warnings) {
    Set<GatewayFamily> unroutable = new HashSet<>();
    Map<Family, ObservedRoutes> touched = new EnumMap<>(Family.class);
    for (Family f : Family.values()) {
      ObservedRoutes cur = routes.get(f);
      String batch = RoutePayloads.install(state.routes(f), state.policyRules(f), cur);
      Set<Long> tables = new HashSet<>(cur.tables());
      List<PolicyRule> rules = new ArrayList<>(cur.rules());
      state.routes(f).forEach(r -> tables.add(r.table()));
      rules.addAll(state.policyRules(f));
      touched.put(f, new ObservedRoutes(f, tables, cur.defaultGateways(), rules));
      if (batch.isEmpty()) {
        continue;
      }
      List<String> argv = List.of("ip", f.ipFlag(), "-force", "-batch", "-");
      CommandRunner.Result r = runner.run(argv, batch);
      if (!r.ok()) {
        List<String> lines = batch.lines().toList();
        if (!BATCH_FAILED.matcher(r.stderr()).find()) {
          throw DataplaneException.of(argv, r, batch, "ip " + f.ipFlag()); // e.g. ip not found
        }
        StringBuilder message = new StringBuilder();
        for (String err : r.stderr().split("\n")) {
          Matcher m = BATCH_FAILED.matcher(err);
          if (!m.find()) {
            message.append(err.strip()).append(' ');
            continue;
          }
          int n = Integer.parseInt(m.group(1));
          String line = n >= 1 && n <= lines.size() ? lines.get(n - 1) : "";
          String why = message.toString().strip();
          message.setLength(0);
          if (line.startsWith("rule add") && why.contains("File exists")) {
            continue; // the rule is already there: what we wanted
          }
          Long table = tableOf(state, f, line);
          if (table == null) {
            throw DataplaneException.of(argv, r, batch, "ip " + f.ipFlag());
          }
          int index = space.indexOfTable(table);
          allocation.forEach(
              (node, i) -> {
                if (i == index) {
                  unroutable.add(new GatewayFamily(node, f));
                }
              });
          warnings.add("`ip " + f.ipFlag() + " " + line + "` failed: " + why);
        }
      }
    }
    return new Installed(unroutable, touched);
  }

  /**
   * Owned rules and tables no longer wanted: marks (rules) before routes. Failures are warnings.
   */
  void removeStale(DesiredState state, Map<Family, ObservedRoutes> touched, List<String> warnings) {
    for (Family f : Family.values()) {
      String stale =
          RoutePayloads.removeStale(state.routes(f), state.policyRules(f), touched.get(f));
      if (!stale.isEmpty()) {
        List<String> argv = List.of("ip", f.ipFlag(), "-force", "-batch", "-");
        CommandRunner.Result r = runner.run(argv, stale);
        if (!r.ok()) {
          warnings.add(DataplaneException.of(argv, r, stale, "ip " + f.ipFlag()).getMessage());
        }
      }
    }
  }

  /** The routing state {@code state} leaves in the kernel (for the next incremental sync). */
  static Map<Family, ObservedRoutes> routesOf(DesiredState state) {
    Map<Family, ObservedRoutes> out = new EnumMap<>(Family.class);
    for (Family f : Family.values()) {
      Map<Long, String> gws = new HashMap<>();
      state.routes(f).forEach(r -> gws.put(r.table(), r.gateway()));
      out.put(f, new ObservedRoutes(f, gws.keySet(), gws, state.policyRules(f)));
    }
    return out;
  }

  /** What of {@code applied}'s routes and rules is missing in the kernel. */
  List<String> drift(DesiredState applied) {
    List<String> drift = new ArrayList<>();
    for (Family f : Family.values()) {
      Set<Long> tables = new HashSet<>();
      applied.routes(f).forEach(r -> tables.add(r.table()));
      ObservedRoutes have = reader.routes(f, space, tables);
      for (RouteSpec r : applied.routes(f)) {
        if (!r.gateway().equals(have.defaultGateways().get(r.table()))) {
          drift.add("ip " + f.ipFlag() + " route table " + r.table() + " lost its default route");
        }
      }
      for (PolicyRule r : applied.policyRules(f)) {
        if (!have.rules().contains(r)) {
          drift.add("ip " + f.ipFlag() + " rule " + RoutePayloads.ruleSpec(r) + " missing");
        }
      }
    }
    return drift;
  }

  /** The table a failed {@code ip -batch} line refers to, if it is one of ours. */
  private static Long tableOf(DesiredState state, Family f, String line) {
    for (RouteSpec r : state.routes(f)) {
      if (RoutePayloads.routeLine(r).equals(line)) {
        return r.table();
      }
    }
    for (PolicyRule r : state.policyRules(f)) {
      if (("rule add " + RoutePayloads.ruleSpec(r)).equals(line)) {
        return r.table();
      }
    }
    return null;
  }
}
