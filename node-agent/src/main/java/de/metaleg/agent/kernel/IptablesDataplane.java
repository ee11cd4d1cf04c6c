package de.metaleg.agent.kernel;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.model.MarkSpace;
import de.metaleg.agent.render.DataplaneRenderer;
import de.metaleg.agent.render.DesiredState;
import de.metaleg.agent.render.EntryRecovery;
import de.metaleg.agent.render.IpSetSpec;
import de.metaleg.agent.render.IpsetPayloads;
import de.metaleg.agent.render.IptablesPayloads;
import de.metaleg.agent.render.Names;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.agent.render.ObservedRoutes;
import de.metaleg.agent.render.ObservedSet;
import de.metaleg.common.Threads;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ipset + iptables(-nft|-legacy) + iproute2 batch. One sync is, in this order:
 *
 * <ol>
 *   <li>one {@code ipset restore}: create/fill sets (sets exist before rules use them);
 *   <li>one {@code ip -batch} per family: routes, then ip rules (a mark always has a route); routes
 *       that fail turn their Forward entries into rejects (re-render);
 *   <li>one {@code iptables-restore --noflush} per family with the changed tables;
 *   <li>(full sync) jumps from built-in chains that are missing are inserted at position 1;
 *   <li>stale ip rules and route tables, then stale sets, are removed (marks are gone by now).
 * </ol>
 */
public final class IptablesDataplane implements Dataplane {
  private static final Logger LOG = LoggerFactory.getLogger(IptablesDataplane.class);

  /**
   * What the last successful sync left in the kernel; {@code memberCounts}: per set, its number of
   * distinct members (what {@code ipset list -t} shows), counted once instead of on every canary
   * run.
   */
  private record Applied(
      DesiredState state,
      Map<Family, Map<String, String>> payloads,
      Map<String, ObservedSet> sets,
      Map<Family, ObservedRoutes> routes,
      Map<String, Integer> memberCounts) {
    Applied(
        DesiredState state,
        Map<Family, Map<String, String>> payloads,
        Map<String, ObservedSet> sets,
        Map<Family, ObservedRoutes> routes) {
      this(state, payloads, sets, routes, new HashMap<>());
      sets.forEach((name, set) -> memberCounts.put(name, new HashSet<>(set.members()).size()));
    }
  }

  private static final Executor FAMILY_POOL =
      Executors.newFixedThreadPool(2, Threads.daemon("metaleg-family"));

  private final CommandRunner runner;
  private final IptablesFlavor flavor;
  private final NodeFacts facts;
  private final KernelReader reader;
  private final IpBatchRoutes netlink;
  private Map<String, Integer> allocation;
  private Applied applied;
  private final JumpFight fight = new JumpFight();
  private final ReadBack readBack;

  /** A canary that lists our chains and jumps every time. */
  public IptablesDataplane(CommandRunner runner, IptablesFlavor flavor, NodeFacts facts) {
    this(runner, flavor, facts, KernelChanges.UNKNOWN);
  }

  /**
   * {@code changes} tells the canary when iptables-nft's chains may have changed; with
   * iptables-legacy (not nf_tables) the canary lists them every time.
   */
  public IptablesDataplane(
      CommandRunner runner, IptablesFlavor flavor, NodeFacts facts, KernelChanges changes) {
    KernelChanges nfTables = flavor == IptablesFlavor.NFT ? changes : KernelChanges.UNKNOWN;
    this.readBack = new ReadBack(nfTables);
    runner = nfTables.own(runner);
    this.runner = runner;
    this.flavor = flavor;
    this.facts = facts;
    this.reader = new KernelReader(runner);
    this.netlink = new IpBatchRoutes(runner, facts.marks());
  }

  @Override
  public String firewallBackend() {
    return flavor.statusName();
  }

  @Override
  public String routeBackend() {
    return "netlink";
  }

  @Override
  public synchronized SyncResult sync(DesiredPlan plan, boolean requestedFull) {
    Applied before = applied;
    applied = null; // until this sync succeeds, the next one must be full
    boolean full = requestedFull || before == null;
    MarkSpace space = facts.marks();
    List<String> warnings = new ArrayList<>();
    Map<String, Long> steps = new LinkedHashMap<>();
    long[] t = {System.nanoTime()};

    CompletableFuture<Map<String, ObservedSet>> readSets =
        full ? CompletableFuture.supplyAsync(reader::sets, FAMILY_POOL) : null;
    Map<Family, ObservedRoutes> routes = full ? netlink.read() : before.routes();
    Map<String, ObservedSet> sets = full ? Steps.join(readSets) : before.sets();
    Steps.lap(steps, t, "read");
    allocation = netlink.allocate(allocation, routes, plan);
    DesiredState state = DataplaneRenderer.render(plan, facts, allocation, Set.of());
    Steps.lap(steps, t, "render");

    // 1. sets: create and add only; members leave in 5, once no rule needs them there
    restore(List.of("ipset", "restore"), IpsetPayloads.grow(state.sets(), sets), "ipset");
    Steps.lap(steps, t, "ipset");

    // 2. routes before the marks that use them
    IpBatchRoutes.Installed installed = netlink.install(state, routes, allocation, warnings);
    if (!installed.unroutable().isEmpty()) {
      state = DataplaneRenderer.render(plan, facts, allocation, installed.unroutable());
    }

    Steps.lap(steps, t, "routes");

    // 3. firewall rules, one restore per family with the tables that changed, then (full sync)
    // 4. the jumps from built-in chains; the two families run in parallel
    Map<Family, Map<String, String>> payloads = new EnumMap<>(Family.class);
    for (Family f : Family.values()) {
      payloads.put(f, IptablesPayloads.render(state, space, f));
    }
    List<CompletableFuture<Void>> perFamily = new ArrayList<>();
    for (Family f : Family.values()) {
      StringBuilder combined = new StringBuilder();
      payloads
          .get(f)
          .forEach(
              (table, text) -> {
                if (full || !text.equals(before.payloads().get(f).get(table))) {
                  combined.append(text);
                }
              });
      perFamily.add(
          CompletableFuture.runAsync(
              () -> {
                restore(
                    List.of(flavor.restore(f), "-w", "5", "--noflush"),
                    combined.toString(),
                    flavor.iptables(f));
                if (full) {
                  ensureJumps(f);
                }
              },
              FAMILY_POOL));
    }
    Steps.join(CompletableFuture.allOf(perFamily.toArray(CompletableFuture[]::new)));
    Steps.lap(steps, t, "iptables+jumps");

    // 5. members the new rules no longer need in their sets, then stale objects
    String shrink = IpsetPayloads.shrink(state.sets(), sets, full);
    if (!shrink.isEmpty()) {
      restore(List.of("ipset", "restore"), shrink, "ipset");
    }
    netlink.removeStale(state, installed.touched(), warnings);
    String staleSets = IpsetPayloads.removeStale(state.sets(), sets);
    if (!staleSets.isEmpty()) {
      try {
        restore(List.of("ipset", "restore"), staleSets, "ipset");
      } catch (DataplaneException e) {
        warnings.add("stale sets not removed: " + e.getMessage());
      }
    }
    Steps.lap(steps, t, "stale");
    warnings.forEach(w -> LOG.warn("{}", w));
    readBack.synced(full);
    applied = new Applied(state, payloads, setsOf(state), IpBatchRoutes.routesOf(state));
    LOG.debug("{} sync steps (ms): {}", full ? "full" : "incremental", steps);
    return new SyncResult(state, full, warnings, steps);
  }

  /**
   * Our jump must be the first rule of its built-in chain: a CNI's masquerade or accept above it
   * would rewrite or pass rerouted packets first. Each built-in chain is listed alone ({@code -S
   * CHAIN}, small: only other components' jumps); where our jump is missing, not first or
   * duplicated, one {@code iptables-restore --noflush} transaction for the family deletes every
   * copy by its spec and inserts it at position 1. Never by position: a rule another component
   * inserts between the read and the repair must survive it.
   */
  private void ensureJumps(Family f) {
    StringBuilder payload = new StringBuilder();
    for (IptablesPayloads.Jump j : IptablesPayloads.JUMPS) {
      String ours = jumpRule(j);
      List<String> rules =
          reader
              .chain(flavor, f, j.table(), j.builtin())
              .orElseThrow(
                  () ->
                      new DataplaneException(
                          flavor.iptables(f) + " has no " + j.table() + " " + j.builtin()));
      long copies = rules.stream().filter(ours::equals).count();
      if (copies == 1 && rules.get(0).equals(ours)) {
        continue;
      }
      payload.append('*').append(j.table()).append('\n');
      for (long i = 0; i < copies; i++) {
        payload.append("-D ").append(ours.substring(3)).append('\n');
      }
      payload.append("-I ").append(j.builtin()).append(" 1 -j ").append(j.chain()).append('\n');
      payload.append("COMMIT\n");
      if (copies > 0 && !rules.get(0).equals(ours)) {
        String where = flavor.iptables(f) + " " + j.table() + " " + j.builtin();
        boolean fightStarts = fight.displaced(java.time.Instant.now(), where, rules.get(0));
        String message =
            "{} jump to {} was at position {}, below `{}`; moved back to 1 in one transaction";
        Object[] args = {where, j.chain(), rules.indexOf(ours) + 1, rules.get(0)};
        if (fightStarts) {
          LOG.warn(message + " (repeatedly: see the Degraded condition)", args);
        } else {
          LOG.info(message, args);
        }
      }
    }
    restore(
        List.of(flavor.restore(f), "-w", "5", "--noflush"), payload.toString(), flavor.restore(f));
  }

  /** Our jump as {@code iptables -S} prints it: {@code -A PREROUTING -j METALEG-MARK}. */
  private static String jumpRule(IptablesPayloads.Jump j) {
    return "-A " + j.builtin() + " " + String.join(" ", j.ruleSpec());
  }

  @Override
  public Optional<String> warning() {
    return fight.warning(java.time.Instant.now());
  }

  private void restore(List<String> argv, String payload, String shellPrefix) {
    if (payload.isEmpty()) {
      return;
    }
    CommandRunner.Result r = runner.run(argv, payload);
    if (!r.ok()) {
      throw DataplaneException.of(argv, r, payload, shellPrefix);
    }
  }

  private static Map<String, ObservedSet> setsOf(DesiredState state) {
    Map<String, ObservedSet> out = new HashMap<>();
    for (IpSetSpec s : state.sets()) {
      out.put(s.name(), new ObservedSet(s.name(), s.type(), s.family(), s.members()));
    }
    return out;
  }

  /**
   * The canary, every CANARY_INTERVAL: bounded cost whatever else the node holds (kube-proxy's
   * 100,000 rules). Every time: one {@code ipset list -t} (headers: does each set exist, with its
   * number of members) and per family one {@code ip -j -batch} (our ip rules and the default routes
   * of our tables). Only when {@link KernelChanges} saw a foreign commit that may touch them (with
   * iptables-legacy: every time), per family and table {@code -S} of our chain (its rule count) and
   * {@code -S BUILT-IN 1} (is our jump first). Never a whole-table {@code iptables-save} or {@code
   * ipset save}: member contents and rule texts are compared by the full resync.
   */
  @Override
  public synchronized Optional<String> drift() {
    Applied a = applied;
    if (a == null) {
      return Optional.empty();
    }
    List<String> drift = new ArrayList<>();
    Map<String, Integer> sizes = reader.setSizes();
    a.memberCounts()
        .forEach(
            (name, members) -> {
              Integer have = sizes.get(name);
              if (have == null) {
                drift.add("ipset " + name + " missing");
              } else if (have.intValue() != members) {
                drift.add("ipset " + name + " has " + have + " members, want " + members);
              }
            });
    readBack.check(drift, d -> chainDrift(a, d));
    drift.addAll(netlink.drift(a.state()));
    return drift.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", drift));
  }

  /** Our chains' rule counts and whether each jump is the first rule of its built-in chain. */
  private void chainDrift(Applied a, List<String> drift) {
    for (Family f : Family.values()) {
      a.payloads()
          .get(f)
          .forEach(
              (table, payload) -> {
                String chain = IptablesPayloads.chainOf(table);
                String key = table + "/" + chain;
                Optional<List<String>> have = reader.chain(flavor, f, table, chain);
                int want = IptablesPayloads.ruleCount(payload);
                if (have.isEmpty() || have.get().size() != want) {
                  drift.add(
                      flavor.iptables(f)
                          + " chain "
                          + key
                          + (have.isEmpty() ? " missing" : " has " + have.get().size() + " rules"));
                }
                IptablesPayloads.Jump j =
                    IptablesPayloads.JUMPS.stream()
                        .filter(x -> x.table().equals(table))
                        .findFirst()
                        .orElseThrow();
                String ours = jumpRule(j);
                if (!reader.firstRule(flavor, f, table, j.builtin()).orElse("").equals(ours)) {
                  // only now list the whole built-in chain (a few jumps) to say where ours is
                  int position =
                      reader.chain(flavor, f, table, j.builtin()).orElse(List.of()).indexOf(ours)
                          + 1;
                  drift.add(
                      flavor.iptables(f)
                          + " jump to "
                          + key
                          + (position == 0 ? " missing" : " at position " + position));
                }
              });
    }
  }

  @Override
  public synchronized Map<String, List<Entry>> recoverEntries(
      Set<String> services, DesiredPlan plan) {
    Map<String, ObservedSet> sets = reader.sets();
    Map<Family, ObservedRoutes> routes = new EnumMap<>(Family.class);
    Map<Family, List<String>> rules = new EnumMap<>(Family.class);
    for (Family f : Family.values()) {
      routes.put(f, reader.routes(f, facts.marks()));
      rules.put(f, reader.ownedRules(flavor, f));
    }
    Map<String, String> nodeByIp = new HashMap<>();
    for (Entry e : plan.entries()) {
      e.gatewayIp().ifPresent(ip -> nodeByIp.putIfAbsent(ip, e.gatewayNode().orElseThrow()));
    }
    Map<String, List<Entry>> out = new TreeMap<>();
    for (String service : services) {
      List<Entry> recovered =
          EntryRecovery.recover(service, rules, sets, routes, facts.marks(), nodeByIp);
      if (!recovered.isEmpty()) {
        out.put(service, recovered);
        LOG.info("kept the programmed state of invalid entry {}: {}", service, recovered);
      }
    }
    return out;
  }

  @Override
  public Map<String, Long> guardCounters() {
    Map<String, Long> out = new java.util.TreeMap<>();
    for (Family f : Family.values()) {
      List<String> argv =
          List.of(
              flavor.iptables(f), "-w", "-t", "filter", "-L", Names.FILTER_CHAIN, "-v", "-x", "-n");
      CommandRunner.Result r = runner.run(argv);
      if (!r.ok()) {
        throw DataplaneException.of(argv, r, null, "");
      }
      de.metaleg.agent.render.GuardCounters.fromIptables(r.stdout(), out);
    }
    return out;
  }

  @Override
  public synchronized Map<String, Integer> allocation() {
    return allocation == null ? Map.of() : new TreeMap<>(allocation);
  }
}
