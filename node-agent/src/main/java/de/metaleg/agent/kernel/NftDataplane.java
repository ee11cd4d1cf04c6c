package de.metaleg.agent.kernel;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.render.DataplaneRenderer;
import de.metaleg.agent.render.DesiredState;
import de.metaleg.agent.render.NftPayloads;
import de.metaleg.agent.render.NftState;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.agent.render.ObservedRoutes;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * FIREWALL_BACKEND=nftables: one table, {@code table inet metaleg}, for both families; nothing
 * outside it is touched. One sync is, in this order:
 *
 * <ol>
 *   <li>one {@code ip -batch} per family: routes, then ip rules (shared with the iptables backend,
 *       {@link IpBatchRoutes}); routes that fail turn their Forward entries into rejects;
 *   <li>one {@code nft -f} transaction: a full sync declares the table, its chains, sets and maps,
 *       flushes them and re-adds every rule and element (stale {@code mark-<i>} chains are
 *       deleted); an incremental sync adds and deletes only the elements that changed;
 *   <li>stale ip rules, then stale route tables are removed.
 * </ol>
 */
public final class NftDataplane implements Dataplane {
  private static final Logger LOG = LoggerFactory.getLogger(NftDataplane.class);
  public static final List<String> NFT = List.of("nft", "-f", "-");

  /** What the last successful sync left in the kernel. */
  private record Applied(DesiredState state, Map<Family, ObservedRoutes> routes) {}

  private final CommandRunner runner;
  private final NodeFacts facts;
  private final NftReader reader;
  private final IpBatchRoutes netlink;
  private Map<String, Integer> allocation;
  private Applied applied;
  private final KernelChanges changes;
  private final ReadBack readBack;

  /** A canary that lists the table every time. */
  public NftDataplane(CommandRunner runner, NodeFacts facts) {
    this(runner, facts, KernelChanges.UNKNOWN);
  }

  /** {@code changes} tells the canary when the table may have changed. */
  public NftDataplane(CommandRunner runner, NodeFacts facts, KernelChanges changes) {
    this.changes = changes;
    this.readBack = new ReadBack(changes);
    runner = changes.own(runner);
    this.runner = runner;
    this.facts = facts;
    this.reader = new NftReader(runner);
    this.netlink = new IpBatchRoutes(runner, facts.marks());
  }

  @Override
  public String firewallBackend() {
    return "nftables";
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
    List<String> warnings = new ArrayList<>();
    Map<String, Long> steps = new LinkedHashMap<>();
    long[] t = {System.nanoTime()};

    CompletableFuture<Set<String>> readChains =
        full ? CompletableFuture.supplyAsync(reader::chains) : null;
    Map<Family, ObservedRoutes> routes = full ? netlink.read() : before.routes();
    Set<String> chains = full ? Steps.join(readChains) : Set.of();
    Steps.lap(steps, t, "read");
    allocation = netlink.allocate(allocation, routes, plan);
    DesiredState state = DataplaneRenderer.render(plan, facts, allocation, Set.of());
    Steps.lap(steps, t, "render");

    // 1. routes before the marks that use them
    IpBatchRoutes.Installed installed = netlink.install(state, routes, allocation, warnings);
    if (!installed.unroutable().isEmpty()) {
      state = DataplaneRenderer.render(plan, facts, allocation, installed.unroutable());
    }
    Steps.lap(steps, t, "routes");

    // 2. the firewall, one transaction
    String payload;
    if (full) {
      payload = NftPayloads.full(NftPayloads.state(state, facts.marks()), facts.marks(), chains);
    } else {
      Set<String> changed = NftPayloads.changedSources(before.state(), state);
      payload =
          NftPayloads.incremental(
              NftPayloads.state(before.state(), facts.marks(), changed),
              NftPayloads.state(state, facts.marks(), changed),
              facts.marks());
    }
    Steps.lap(steps, t, "nft-render");
    if (!full) {
      LOG.debug("incremental nft transaction:\n{}", payload);
    }
    if (full) {
      changes.pause(); // no event per element for the monitor; the canary reads the table next
    }
    apply(payload, full && !chains.isEmpty());
    Steps.lap(steps, t, "nft");

    // 3. stale routes, now that no packet is marked for them
    netlink.removeStale(state, installed.touched(), warnings);
    Steps.lap(steps, t, "stale");
    warnings.forEach(w -> LOG.warn("{}", w));
    readBack.synced(full);
    applied = new Applied(state, IpBatchRoutes.routesOf(state));
    LOG.debug("{} sync steps (ms): {}", full ? "full" : "incremental", steps);
    return new SyncResult(state, full, warnings, steps);
  }

  /**
   * Runs one transaction. When a full sync into an existing table fails (e.g. a chain of ours was
   * re-declared with another hook or priority by hand), the table is replaced in one transaction
   * instead: {@code add table; delete table;} followed by the same payload.
   */
  private void apply(String payload, boolean tableExisted) {
    if (payload.isEmpty()) {
      return;
    }
    CommandRunner.Result r = runner.run(NFT, payload);
    if (r.ok()) {
      return;
    }
    DataplaneException first = DataplaneException.of(NFT, r, payload, "nft");
    if (!tableExisted) {
      throw first;
    }
    LOG.warn("replacing table {} after: {}", NftPayloads.T, first.getMessage());
    String replace =
        "add table " + NftPayloads.T + "\ndelete table " + NftPayloads.T + "\n" + payload;
    CommandRunner.Result again = runner.run(NFT, replace);
    if (!again.ok()) {
      throw DataplaneException.of(NFT, again, replace, "nft");
    }
  }

  /**
   * The ip rules/routes every time; only when {@link KernelChanges} saw a foreign commit that may
   * touch the table, one {@code nft list table} (nft 1.0.6 fetches every element of the table for
   * any listing of a chain): chains missing or with another number of rules, sets and maps missing
   * or with other elements (the exclude sets only need to be non-empty: nft merges adjacent
   * prefixes).
   */
  @Override
  public synchronized Optional<String> drift() {
    Applied a = applied;
    if (a == null) {
      return Optional.empty();
    }
    List<String> drift = new ArrayList<>();
    readBack.check(drift, d -> tableDrift(a, d));
    drift.addAll(netlink.drift(a.state()));
    return drift.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", drift));
  }

  private void tableDrift(Applied a, List<String> drift) {
    Optional<NftReader.ObservedTable> table = reader.table();
    if (table.isEmpty()) {
      drift.add("nft table " + NftPayloads.T + " missing");
    } else {
      NftReader.ObservedTable have = table.get();
      NftState nft = NftPayloads.state(a.state(), facts.marks());
      NftPayloads.chains(nft, facts.marks())
          .forEach(
              (chain, rules) -> {
                List<String> got = have.chains().get(chain);
                if (got == null || got.size() != rules.size()) {
                  drift.add(
                      "nft chain "
                          + chain
                          + (got == null ? " missing" : " has " + got.size() + " rules"));
                }
              });
      Map<String, Set<String>> want = new TreeMap<>();
      nft.sets().forEach((n, els) -> want.put(n, new HashSet<>(els)));
      nft.maps()
          .forEach(
              (n, els) -> {
                Set<String> texts = new HashSet<>();
                els.forEach((k, v) -> texts.add(k + " : " + v));
                want.put(n, texts);
              });
      want.forEach(
          (name, els) -> {
            List<String> got = have.elements().get(name);
            if (got == null) {
              drift.add("nft set/map " + name + " missing");
            } else if (name.startsWith("excl")) {
              if (got.isEmpty() != els.isEmpty()) { // nft merges adjacent prefixes: no 1:1 compare
                drift.add("nft set " + name + " has " + got.size() + " elements");
              }
            } else if (got.size() != els.size() || !els.containsAll(got)) {
              drift.add(
                  "nft set/map "
                      + name
                      + " has "
                      + got.size()
                      + " elements, want "
                      + els.size()
                      + (got.size() == els.size() ? " (contents differ)" : ""));
            }
          });
    }
  }

  /**
   * 60 s: listing the forward chain fetches every element of the table (0.14–0.18 s of CPU with
   * 40,000 elements; {@code -t} does not help), so a reading per 10 s would cost more than the idle
   * agent. Only full syncs rewrite the chain, and they read the counters first.
   */
  @Override
  public java.time.Duration guardReadPeriod() {
    return java.time.Duration.ofSeconds(60);
  }

  @Override
  public Map<String, Long> guardCounters() {
    List<String> argv = List.of("nft", "list", "chain", NftPayloads.T, NftPayloads.FORWARD);
    CommandRunner.Result r = runner.run(argv);
    if (!r.ok()) {
      throw DataplaneException.of(argv, r, null, "");
    }
    return de.metaleg.agent.render.GuardCounters.fromNft(r.stdout());
  }

  @Override
  public synchronized Map<String, Integer> allocation() {
    return allocation == null ? Map.of() : new TreeMap<>(allocation);
  }
}
