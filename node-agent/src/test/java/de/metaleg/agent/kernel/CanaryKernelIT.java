package de.metaleg.agent.kernel;

import static de.metaleg.agent.kernel.DataplaneKernelIT.forward;
import static de.metaleg.agent.kernel.DataplaneKernelIT.gateway;
import static de.metaleg.agent.kernel.DataplaneKernelIT.reject;
import static de.metaleg.agent.kernel.KernelTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.render.Names;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The canary ({@link Dataplane#drift()}), one kind of external change per test, against the real
 * tools in a throwaway namespace ({@code megA-cn*} / {@code megN-cn*}), with the agent's {@link
 * XtablesMonitor}: each change is seen within CANARY_INTERVAL (the canary is asked until it says
 * so, for at most that long: the monitor's events arrive asynchronously) and a full sync repairs
 * it. While nothing changes, the canary of the nf_tables backends (iptables-nft, nftables) reads
 * neither our chains nor the nft table. For the iptables backend the canary must stay cheap: it
 * never dumps a whole table ({@code iptables-save}), every set member ({@code ipset save}) or every
 * route ({@code route show table all}).
 *
 * <p>Addresses as in {@link DataplaneKernelIT}: link 192.0.2.1/24 and 2001:db8::1/64, gateway
 * node-b 192.0.2.2 / 2001:db8::2, pods 10.244.1.x / fd00:10:244:1::x, LB IP 198.51.100.10.
 */
class CanaryKernelIT {
  private KernelTestSupport kernel;
  private ProcessRunner ns;
  private NodeFacts facts;
  private final List<String> canaryCommands = Collections.synchronizedList(new ArrayList<>());
  private Dataplane dp;
  private DesiredPlan plan;
  private XtablesMonitor monitor;
  private boolean forceRead;

  /** The monitor, and a way to make the next canary run read everything (to check a repair). */
  private final KernelChanges changes =
      new KernelChanges() {
        @Override
        public boolean changed() {
          boolean seen = monitor.changed();
          boolean forced = forceRead;
          forceRead = false;
          return seen || forced;
        }

        @Override
        public CommandRunner own(CommandRunner runner) {
          return monitor.own(runner);
        }
      };

  @BeforeEach
  void setUp() {
    KernelTestSupport.requireKernel();
    kernel = new KernelTestSupport();
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
  }

  @AfterEach
  void tearDown() {
    if (monitor != null) {
      monitor.close();
    }
    if (kernel != null) {
      kernel.close();
    }
  }

  /** Programs a plan with every role in both families; the canary is quiet afterwards. */
  private void programmed(String name, Backend backend) {
    ns = kernel.namespace(backend.namespacePrefix(), "cn" + name + "-" + backend.shortName());
    sh(
        ns,
        "ip link add lan0 type veth peer name lan1 && ip link set lan0 up && ip link set lan1 up");
    sh(ns, "ip addr add 192.0.2.1/24 dev lan0 && ip addr add 2001:db8::1/64 dev lan0 nodad");
    CommandRunner recording =
        (argv, stdin) -> {
          canaryCommands.add(String.join(" ", argv));
          return ns.run(argv, stdin);
        };
    monitor = new XtablesMonitor(ns.prefix());
    dp = backend.create(recording, facts, changes);
    plan =
        new DesiredPlan(
            List.of(
                forward("shop/web", Family.V4, "node-b", "192.0.2.2", "10.244.1.5", "10.244.1.6"),
                forward("shop/web", Family.V6, "node-b", "2001:db8::2", "fd00:10:244:1::5"),
                gateway("shop/api", Family.V4, "198.51.100.10", "10.244.1.7"),
                reject("shop/batch", Family.V4, "10.244.1.9")));
    dp.sync(plan, false);
    canaryCommands.clear();
    assertEquals(Optional.empty(), dp.drift(), "quiet after a sync");
    if (!backend.nft()) {
      assertCheap();
    }
    canaryCommands.clear();
    assertEquals(Optional.empty(), dp.drift(), "quiet");
    if (backend != Backend.IPTABLES_LEGACY) { // the monitor runs: nothing of nf_tables is read
      List<String> ran = List.copyOf(canaryCommands);
      assertTrue(
          ran.stream().noneMatch(c -> c.contains(" -S ") || c.startsWith("nft ")), ran.toString());
      assertTrue(ran.stream().anyMatch(c -> c.startsWith("ip -j")), ran.toString());
    }
    canaryCommands.clear();
  }

  /**
   * What the canary says once it sees a change: asked again and again for at most CANARY_INTERVAL
   * (10 s), since the monitor's event for a change made a moment ago may still be on its way.
   */
  private Optional<String> nextDrift() {
    long deadline = System.nanoTime() + 10_000_000_000L;
    Optional<String> drift = dp.drift();
    while (drift.isEmpty() && System.nanoTime() < deadline) {
      drift = dp.drift();
    }
    return drift;
  }

  /** What the canary ran: per-chain and per-table listings only, never a whole dump. */
  private void assertCheap() {
    List<String> ran = List.copyOf(canaryCommands);
    for (String c : ran) {
      assertFalse(c.contains("-save"), "the canary dumped a whole table: " + c);
      assertFalse(c.equals("ipset save") || c.startsWith("ipset list -o save"), c);
      assertFalse(c.contains("table all"), "the canary listed every route: " + c);
    }
    assertTrue(ran.contains("ipset list -t"), ran.toString());
    canaryCommands.clear();
  }

  /** The next canary run sees {@code expect}; a full sync makes it quiet again. */
  private void detectedAndRepaired(String expect) {
    Optional<String> drift = nextDrift();
    assertTrue(drift.isPresent() && drift.get().contains(expect), "canary said: " + drift);
    dp.sync(plan, true);
    forceRead = true;
    assertEquals(Optional.empty(), dp.drift(), "repaired by the full sync");
  }

  private static String ipt(Backend b, Family f) {
    return b.iptables().iptables(f);
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void flushedChain(Backend backend) {
    programmed("fl", backend);
    if (backend.nft()) {
      sh(ns, "nft flush chain inet metaleg postrouting");
      detectedAndRepaired("nft chain postrouting has 0 rules");
    } else {
      sh(ns, ipt(backend, Family.V6) + " -t mangle -F METALEG-MARK");
      Optional<String> drift = nextDrift();
      assertCheap();
      assertTrue(
          drift.orElse("").contains("chain mangle/METALEG-MARK has 0 rules"), drift.toString());
      detectedAndRepaired("mangle/METALEG-MARK");
    }
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void deletedRule(Backend backend) {
    programmed("dr", backend);
    if (backend.nft()) {
      String handle =
          sh(
                  ns,
                  "nft -a list chain inet metaleg forward | grep -v -e chain -e table | grep -m1 -o 'handle [0-9]*$'")
              .strip();
      sh(ns, "nft delete rule inet metaleg forward " + handle);
      detectedAndRepaired("nft chain forward has");
    } else {
      // the reject of shop/batch, deleted by its position in our chain
      String rules = sh(ns, ipt(backend, Family.V4) + " -t filter -S METALEG-FORWARD");
      assertTrue(rules.contains("REJECT"), rules);
      sh(ns, ipt(backend, Family.V4) + " -t filter -D METALEG-FORWARD 3");
      detectedAndRepaired("filter/METALEG-FORWARD has");
    }
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void destroyedSetOrFlushedMap(Backend backend) {
    programmed("ds", backend);
    if (backend.nft()) {
      sh(ns, "nft flush map inet metaleg mark4");
      detectedAndRepaired("nft set/map mark4 has 0 elements");
    } else {
      // a set in use cannot be destroyed; flushing it (or swapping it) is the external change
      String set = Names.sourceSet("shop/web", Family.V4);
      sh(ns, "ipset flush " + set);
      Optional<String> drift = nextDrift();
      assertCheap();
      assertTrue(
          drift.orElse("").contains("ipset " + set + " has 0 members, want 2"), drift.toString());
      detectedAndRepaired(set);
      // a set can only be destroyed once no rule uses it: flush the chain that does, then destroy
      sh(ns, ipt(backend, Family.V4) + " -t mangle -F METALEG-MARK && ipset destroy " + set);
      detectedAndRepaired("ipset " + set + " missing");
    }
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void deletedRouteOrIpRule(Backend backend) {
    programmed("rt", backend);
    sh(ns, "ip -6 route del default table 100001");
    Optional<String> drift = nextDrift();
    if (!backend.nft()) {
      assertCheap();
    }
    assertTrue(
        drift.orElse("").contains("ip -6 route table 100001 lost its default route"),
        drift.toString());
    detectedAndRepaired("100001");
    sh(ns, "ip rule del fwmark 0x100000/0xf00000 table 100001");
    detectedAndRepaired("ip -4 rule");
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "IPTABLES_LEGACY"})
  void movedOrDeletedJump(Backend backend) {
    programmed("mj", backend);
    sh(ns, ipt(backend, Family.V4) + " -t mangle -I PREROUTING 1 -j ACCEPT");
    Optional<String> drift = nextDrift();
    assertCheap();
    assertTrue(
        drift.orElse("").contains("jump to mangle/METALEG-MARK at position 2"), drift.toString());
    detectedAndRepaired("mangle/METALEG-MARK at position 2");
    List<String> pre =
        sh(ns, ipt(backend, Family.V4) + " -t mangle -S PREROUTING").lines().toList();
    assertEquals(
        List.of("-P PREROUTING ACCEPT", "-A PREROUTING -j METALEG-MARK", "-A PREROUTING -j ACCEPT"),
        pre);

    sh(ns, ipt(backend, Family.V6) + " -t filter -D FORWARD -j METALEG-FORWARD");
    detectedAndRepaired("jump to filter/METALEG-FORWARD missing");
  }

  @ParameterizedTest
  @EnumSource(value = Backend.class, names = "NFTABLES")
  void deletedTable(Backend backend) {
    programmed("dt", backend);
    sh(ns, "nft delete table inet metaleg");
    detectedAndRepaired("table inet metaleg missing");
    // the full sync paused the monitor; the canary's next run started it again
    sh(ns, "nft flush chain inet metaleg forward");
    detectedAndRepaired("nft chain forward has 0 rules");
  }
}
