package de.metaleg.agent.bench;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.kernel.CommandRunner;
import de.metaleg.agent.kernel.Dataplane;
import de.metaleg.agent.kernel.IptablesDataplane;
import de.metaleg.agent.kernel.IptablesFlavor;
import de.metaleg.agent.kernel.NftDataplane;
import de.metaleg.agent.kernel.ProcessRunner;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.DataplaneRenderer;
import de.metaleg.agent.render.DesiredState;
import de.metaleg.agent.render.IpsetPayloads;
import de.metaleg.agent.render.IptablesPayloads;
import de.metaleg.agent.render.MarkAllocator;
import de.metaleg.agent.render.NftPayloads;
import de.metaleg.agent.render.NftState;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Prints sync timings of a dataplane in throwaway namespaces ({@code megA-bench-*} for iptables,
 * {@code megN-bench-*} for nftables): full syncs of 100 and 1,000 entries x 20 sources per family,
 * a no-change full resync, one added endpoint, a gateway move, and the raw restore floor (the same
 * payloads piped straight into ipset / iptables-restore). Run as root:
 *
 * <pre>
 * java -cp node-agent/target/metaleg-node-agent.jar:node-agent/target/test-classes \
 *     de.metaleg.agent.bench.SyncBenchmark [nft|legacy|nftables]
 * </pre>
 */
public final class SyncBenchmark {
  private static final int SOURCES = 20;
  private static final int GATEWAYS = 10;

  private SyncBenchmark() {}

  public static void main(String[] args) {
    String which = args.length > 0 ? args[0] : "nft";
    boolean nftables = which.equals("nftables");
    IptablesFlavor flavor = which.equals("legacy") ? IptablesFlavor.LEGACY : IptablesFlavor.NFT;
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "bench"));
    NodeFacts facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
    Function<CommandRunner, Dataplane> create =
        r -> nftables ? new NftDataplane(r, facts) : new IptablesDataplane(r, flavor, facts);
    System.out.printf(
        "backend %s, %d sources per entry and family, %d gateway nodes, %d cores%n",
        nftables ? "nftables" : flavor.statusName(),
        SOURCES,
        GATEWAYS,
        Runtime.getRuntime().availableProcessors());
    for (int entries : new int[] {100, 1000}) {
      try (Namespace ns = new Namespace((nftables ? "megN" : "megA") + "-bench-" + entries)) {
        Dataplane dp = create.apply(ns.runner);
        List<Entry> plan = plan(entries, 0);
        dp.sync(new DesiredPlan(plan), false); // warm-up (JIT, kernel modules)
        ns.reset();
        settle();
        dp = create.apply(ns.runner);
        long full = time(dp, plan, true);
        long again = time(dp, plan, true);
        long[] inc = new long[20];
        for (int i = 0; i < inc.length; i++) {
          Entry e = plan.get(i);
          List<String> src = new ArrayList<>(e.sources());
          src.add(
              e.family() == Family.V4
                  ? "10.250.0." + (i + 1)
                  : "fd00:10:250::" + Integer.toHexString(i + 1));
          plan.set(
              i,
              new Entry(
                  e.service(),
                  e.family(),
                  e.role(),
                  e.reason(),
                  e.gatewayNode(),
                  e.gatewayIp(),
                  e.snatIp(),
                  src));
          inc[i] = time(dp, plan, false);
        }
        Arrays.sort(inc);
        List<Entry> moved = plan(entries, 1);
        long move = time(dp, moved, false);
        System.out.printf(
            "%5d entries: full sync from empty %4d ms | full resync, nothing changed %4d ms | one endpoint added: median %d ms, max %d ms | gateway move (all Forward entries) %d ms%n",
            entries, full, again, inc[inc.length / 2], inc[inc.length - 1], move);
        if (nftables) {
          nftFloor(ns, facts, plan, entries);
        } else {
          floor(ns, flavor, facts, plan, entries);
        }
      }
    }
  }

  /** The plan as a first sync renders it: marks allocated from nothing. */
  private static DesiredState rendered(NodeFacts facts, List<Entry> plan) {
    DesiredPlan p = new DesiredPlan(plan);
    return DataplaneRenderer.render(
        p,
        facts,
        MarkAllocator.allocate(Map.of(), MarkAllocator.gatewayNodes(p), facts.marks().maxIndex()),
        Set.of());
  }

  private static void floor(
      Namespace ns, IptablesFlavor flavor, NodeFacts facts, List<Entry> plan, int entries) {
    DesiredState state = rendered(facts, plan);
    String ipset = IpsetPayloads.install(state.sets(), Map.of(), false);
    ns.reset();
    long t0 = System.nanoTime();
    ns.runner.run(List.of("ipset", "restore"), ipset);
    long ipsetMs = (System.nanoTime() - t0) / 1_000_000;
    long iptMs = 0;
    for (Family f : Family.values()) {
      String payload = String.join("", IptablesPayloads.render(state, facts.marks(), f).values());
      t0 = System.nanoTime();
      CommandRunner.Result r = ns.runner.run(List.of(flavor.restore(f), "--noflush"), payload);
      iptMs += (System.nanoTime() - t0) / 1_000_000;
      if (!r.ok()) {
        throw new IllegalStateException(r.stderr());
      }
    }
    System.out.printf(
        "%5d entries: raw floor: one ipset restore of %d lines %d ms, iptables-restore of both families (%d rules) %d ms%n",
        entries,
        ipset.lines().count(),
        ipsetMs,
        state.marks().size() + state.snats().size() + 2 * state.rejects().size(),
        iptMs);
  }

  private static void nftFloor(Namespace ns, NodeFacts facts, List<Entry> plan, int entries) {
    DesiredState state = rendered(facts, plan);
    NftState nft = NftPayloads.state(state, facts.marks());
    String payload = NftPayloads.full(nft, facts.marks(), Set.of());
    ns.reset();
    long t0 = System.nanoTime();
    CommandRunner.Result r = ns.runner.run(NftDataplane.NFT, payload);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    if (!r.ok()) {
      throw new IllegalStateException(r.stderr());
    }
    System.out.printf(
        "%5d entries: raw floor: one nft -f of %d lines (%d elements) into an empty namespace %d ms%n",
        entries, payload.lines().count(), nft.elementCount(), ms);
  }

  private static long time(Dataplane dp, List<Entry> plan, boolean full) {
    long t0 = System.nanoTime();
    var r = dp.sync(new DesiredPlan(plan), full);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    if (VERBOSE) {
      System.out.println(
          "    " + (full ? "full" : "incremental") + " " + ms + " ms: " + r.stepMillis());
    }
    return ms;
  }

  /**
   * The kernel tears a deleted namespace down in the background; with 40,000 set members that takes
   * CPU for a while and would be measured as part of the next syncs on a 2-core machine.
   */
  private static void settle() {
    try {
      Thread.sleep(Long.getLong("bench.settleMillis", 3000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static final boolean VERBOSE = Boolean.getBoolean("bench.verbose");

  /** Entries cycle Forward, Gateway, Reject; Forward goes to gateway (i + shift) % GATEWAYS. */
  static List<Entry> plan(int entries, int shift) {
    List<Entry> out = new ArrayList<>();
    for (int i = 0; i < entries; i++) {
      Role role = Role.values()[(i + 1) % 3];
      int gw = (i + shift) % GATEWAYS + 1;
      for (Family f : Family.values()) {
        List<String> src = new ArrayList<>();
        for (int j = 0; j < SOURCES; j++) {
          int k = i * SOURCES + j;
          src.add(
              f == Family.V4
                  ? "10." + (244 + (k >> 16)) + "." + ((k >> 8) & 255) + "." + (k & 255)
                  : "fd00:10:244::" + Integer.toHexString(k + 1));
        }
        out.add(
            new Entry(
                "bench/svc-" + i,
                f,
                role,
                "bench",
                role == Role.Reject ? Optional.empty() : Optional.of("gw-" + gw),
                role == Role.Forward
                    ? Optional.of(f == Family.V4 ? "192.0.2." + gw : "2001:db8::" + gw)
                    : Optional.empty(),
                role == Role.Gateway
                    ? Optional.of(f == Family.V4 ? "198.51.100.1" : "2001:db8:100::1")
                    : Optional.empty(),
                src));
      }
    }
    return out;
  }

  /** A throwaway namespace with a link to the gateways' subnet. */
  private static final class Namespace implements AutoCloseable {
    final String name;
    final ProcessRunner runner;

    Namespace(String name) {
      this.name = name;
      this.runner = ProcessRunner.inNamespace(name);
      reset();
    }

    void reset() {
      ProcessRunner host = ProcessRunner.host();
      host.run(List.of("ip", "netns", "del", name));
      must(host, "ip netns add " + name);
      must(
          runner,
          "ip link set lo up && sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
      must(
          runner,
          "ip link add lan0 type veth peer name lan1 && ip link set lan0 up && ip link set lan1 up");
      must(
          runner,
          "ip addr add 192.0.2.254/24 dev lan0 && ip addr add 2001:db8::fe/64 dev lan0 nodad");
    }

    private static void must(CommandRunner r, String cmd) {
      CommandRunner.Result res = r.run(List.of("sh", "-c", cmd));
      if (!res.ok()) {
        throw new IllegalStateException(cmd + ": " + res.stderr());
      }
    }

    @Override
    public void close() {
      ProcessRunner.host().run(List.of("ip", "netns", "del", name));
    }
  }
}
