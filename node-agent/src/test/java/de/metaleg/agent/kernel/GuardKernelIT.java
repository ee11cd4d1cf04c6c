package de.metaleg.agent.kernel;

import static de.metaleg.agent.kernel.KernelTestSupport.out;
import static de.metaleg.agent.kernel.KernelTestSupport.packets;
import static de.metaleg.agent.kernel.KernelTestSupport.sh;
import static de.metaleg.agent.kernel.TwoNodeLab.EXT4;
import static de.metaleg.agent.kernel.TwoNodeLab.EXT6;
import static de.metaleg.agent.kernel.TwoNodeLab.LB4;
import static de.metaleg.agent.kernel.TwoNodeLab.LB6;
import static de.metaleg.agent.kernel.TwoNodeLab.POD4;
import static de.metaleg.agent.kernel.TwoNodeLab.POD6;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.Guard;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * One kernel test per transition guard (docs/agent.md, "Guard rules"; the transit guard is covered
 * by {@link TransitionKernelIT}). Each test builds the exact stale state its guard exists for by
 * programming the nodes with the raw backend (no {@link TransitionDataplane}: no quarantine, no
 * conntrack audit, so the stale entries stay), sends traffic, and asserts both that nothing got
 * through that the guard is there to stop and that the guard's drop counter went up.
 *
 * <p>Test IP conventions (topology: {@link TwoNodeLab}, namespaces {@code
 * meg?-gd<backend><test>-*}):
 *
 * <ul>
 *   <li>pod {@value TwoNodeLab#POD4} / {@value TwoNodeLab#POD6} behind node 1 (192.0.2.1 /
 *       2001:db8::1); node 2 is 192.0.2.2 / 2001:db8::2; both carry a CNI-style masquerade of the
 *       pod CIDR (iptables-nft), so an un-NATed packet shows the pod address, a masqueraded one the
 *       node's;
 *   <li>external host {@value TwoNodeLab#EXT4} / {@value TwoNodeLab#EXT6} (TEST-NET-3 and a
 *       documentation prefix), plus {@value #EXCL4} / {@value #EXCL6} on its lo: destinations
 *       inside the default FIREWALL_EXCLUDE_DST_CIDRS (10.0.0.0/8, fc00::/7), which no guard may
 *       touch;
 *   <li>LB IP {@value TwoNodeLab#LB4} / {@value TwoNodeLab#LB6} (TEST-NET-2), routed by the
 *       external host to whichever node "MetalLB" announces it at;
 *   <li>ports: the long-lived flows of flows.py are TCP {@value #TCP} / UDP {@value #UDP}; single
 *       datagrams (packets.py) go to UDP {@value #SINGLE}; the single packets' source port is
 *       40000, fixed, so repeated sends share one conntrack entry.
 * </ul>
 *
 * The external host counts, with target-less iptables INPUT rules commented {@code
 * src=<address>/<protocol>} and {@code dst=<address>}, the TCP/UDP packets to those ports per
 * source address (pod, nodes, LB IPs) and the datagrams to {@value #SINGLE} per destination.
 */
class GuardKernelIT {
  static final int TCP = 9100;
  static final int UDP = 9101;
  static final int SINGLE = 9102;
  static final String EXCL4 = "10.99.0.10";
  static final String EXCL6 = "fd00:99::10";
  static final Path FLOWS = Path.of("src/test/resources/kernel/flows.py").toAbsolutePath();
  static final List<String> LEAKS =
      List.of(POD4, POD6, "192.0.2.1", "2001:db8::1", "192.0.2.2", "2001:db8::2");

  private KernelTestSupport kernel;
  private TwoNodeLab lab;
  private NodeFacts facts;
  private final List<Process> processes = new ArrayList<>();

  @BeforeEach
  void setUp() {
    KernelTestSupport.requireKernel();
    kernel = new KernelTestSupport();
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node1"));
    facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
  }

  @AfterEach
  void tearDown() {
    processes.forEach(Process::destroyForcibly);
    if (kernel != null) {
      kernel.close();
    }
  }

  // --- the guards -------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void unboundDropsAForwardedFlowOnceThisNodeBecameItsGateway(Backend backend) {
    build(backend, "ub");
    Dataplane node1 = backend.create(lab.n1(), facts);
    Dataplane node2 = backend.create(lab.n2(), facts);
    node2.sync(gateway(), true);
    node1.sync(forwardTo("192.0.2.2", "2001:db8::2"), true);
    // null binding on node 1, SNAT on node 2; the UDP flow is never answered (conntrack state NEW)
    openFlows();
    assertEquals(0, leaked(), "before the change: " + seen(lab.ext()));
    resetCounters(lab.ext());

    lab.announce("192.0.2.1", "2001:db8::1");
    node1.sync(gateway(), false); // the flows' packets are no longer marked: default route, no NAT
    sleep(1000);
    assertEquals(0, leaked(), "no packet with a pod or node address: " + seen(lab.ext()));
    assertGuardCounted(node1, Guard.UNBOUND);
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void markedSnatDropsTheOldGatewaysOwnPodAfterAFailover(Backend backend) {
    build(backend, "ms");
    Dataplane node1 = backend.create(lab.n1(), facts);
    Dataplane node2 = backend.create(lab.n2(), facts);
    lab.announce("192.0.2.1", "2001:db8::1");
    node1.sync(gateway(), true);
    openFlows(); // SNATed to the LB IP on node 1
    for (Family f : Family.values()) {
      String lb = f == Family.V4 ? LB4 : LB6;
      sh(lab.n2(), f.iptables() + "-nft -t raw -A PREROUTING -s " + lb + counting("lb-in"));
    }
    resetCounters(lab.ext());

    lab.announce("192.0.2.2", "2001:db8::2");
    node2.sync(gateway(), true);
    node1.sync(forwardTo("192.0.2.2", "2001:db8::2"), false); // marked now, SNAT binding kept
    sleep(1000);
    assertEquals(
        0L,
        seen(lab.n2()).getOrDefault("lb-in", 0L),
        "no packet already SNATed to the LB IP left node 1 toward node 2");
    assertEquals(0, leaked(), "no packet with a pod or node address: " + seen(lab.ext()));
    assertGuardCounted(node1, Guard.MARKED_SNAT);
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void quarantineDropsASwitchingSourceExceptToExcludedDestinations(Backend backend) {
    build(backend, "qu");
    Dataplane node1 = backend.create(lab.n1(), facts);
    lab.announce("192.0.2.1", "2001:db8::1");
    node1.sync(gateway().withQuarantine(Set.of(POD4, POD6)), true);

    for (String dst : List.of(EXT4, EXT6, EXCL4, EXCL6)) {
      packets(lab.pod(), "udp", "-", "40000", dst, Integer.toString(SINGLE), "5");
    }
    Map<String, Long> seen = seen(lab.ext());
    assertEquals(0L, count(seen, "dst=" + EXT4), "quarantined (IPv4): " + seen);
    assertEquals(0L, count(seen, "dst=" + EXT6), "quarantined (IPv6): " + seen);
    assertEquals(5L, count(seen, "dst=" + EXCL4), "excluded destinations pass (IPv4): " + seen);
    assertEquals(5L, count(seen, "dst=" + EXCL6), "excluded destinations pass (IPv6): " + seen);
    assertGuardCounted(node1, Guard.QUARANTINE);
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void invalidDropsThePodsSegmentsOnceTheirEntryIsGone(Backend backend) {
    build(backend, "iv");
    Dataplane node1 = backend.create(lab.n1(), facts);
    lab.announce("192.0.2.1", "2001:db8::1");
    node1.sync(gateway(), true);
    sh(lab.n1(), "sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0"); // no mid-stream pickup
    openFlows();
    assertEquals(0, leaked(), "before the change: " + seen(lab.ext()));
    resetCounters(lab.ext());

    // an audit (or anyone) deleted the entries; the next segments have no entry and are INVALID
    out(lab.n1(), "conntrack -D -s " + POD4 + "; conntrack -D -f ipv6 -s " + POD6);
    sleep(1500);
    assertEquals(0, leaked(), "no packet with a pod or node address: " + seen(lab.ext()));
    assertGuardCounted(node1, Guard.INVALID);
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void strayReplyDropsAReplyOfAnUnknownFlowAndLeavesNoEntry(Backend backend) {
    build(backend, "sr");
    Dataplane node2 = backend.create(lab.n2(), facts);
    node2.sync(gateway(), true); // the LB IPs are announced at node 2

    // a TCP ACK (no SYN) from the server's port: with nf_conntrack_tcp_loose=1 a new entry
    packets(lab.ext(), "ack", EXT4, Integer.toString(TCP), LB4, "40000");
    packets(lab.ext(), "ack", EXT6, Integer.toString(TCP), LB6, "40000");
    sleep(200);
    String entries =
        out(lab.n2(), "conntrack -L -d " + LB4 + "; conntrack -L -f ipv6 -d " + LB6).strip();
    assertEquals("", entries, "no conntrack entry for the stray replies on node 2");
    assertGuardCounted(node2, Guard.STRAY_REPLY);
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void lbSourceDropsAPacketSnatedElsewhere(Backend backend) {
    build(backend, "ls");
    Dataplane node2 = backend.create(lab.n2(), facts);
    node2.sync(gateway(), true);
    // node 1 plays the old gateway: it sends from the LB IP, routed to the outside via node 2
    sh(
        lab.n1(),
        "ip addr add "
            + LB4
            + "/32 dev lo && ip addr add "
            + LB6
            + "/128 dev lo nodad && ip route add "
            + EXT4
            + "/32 via 192.0.2.2 && ip -6 route add "
            + EXT6
            + "/128 via 2001:db8::2");

    packets(lab.n1(), "udp", LB4, "40000", EXT4, Integer.toString(SINGLE), "5");
    packets(lab.n1(), "udp", LB6, "40000", EXT6, Integer.toString(SINGLE), "5");
    sleep(200);
    Map<String, Long> seen = seen(lab.ext());
    assertEquals(0L, count(seen, "dst=" + EXT4), "nothing got through (IPv4): " + seen);
    assertEquals(0L, count(seen, "dst=" + EXT6), "nothing got through (IPv6): " + seen);
    assertGuardCounted(node2, Guard.LB_SOURCE);
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void settlingDropsALateReplyOfAFlowWhoseEntryWasDeleted(Backend backend) {
    build(backend, "st");
    Dataplane node1 = backend.create(lab.n1(), facts);
    Dataplane node2 = backend.create(lab.n2(), facts);
    lab.announce("192.0.2.2", "2001:db8::2");
    node2.sync(gateway(), true);
    node1.sync(forwardTo("192.0.2.2", "2001:db8::2"), true);
    String single = Integer.toString(SINGLE);
    for (String ext : List.of(EXT4, EXT6)) {
      packets(lab.pod(), "udp", "-", "40000", ext, single, "3"); // SNATed to LB:40000 on node 2
    }

    // the label is removed: node 1 drops the source and deletes its entries; node 2 has not synced
    node1.sync(DesiredPlan.empty().withSettling(Set.of(POD4, POD6)), false);
    out(lab.n1(), "conntrack -D -s " + POD4 + "; conntrack -D -f ipv6 -s " + POD6);
    resetCounters(lab.ext());
    // a late reply, which node 2 de-SNATs to the pod and routes to node 1
    packets(lab.ext(), "udp", EXT4, single, LB4, "40000", "3");
    packets(lab.ext(), "udp", EXT6, single, LB6, "40000", "3");
    String reverse =
        out(lab.n1(), "conntrack -L -d " + POD4 + "; conntrack -L -f ipv6 -d " + POD6).strip();
    assertEquals("", reverse, "no entry from the outside to the pod on node 1");

    // the pod's next datagrams of the same 5-tuple get a fresh entry: the CNI masquerade
    for (String ext : List.of(EXT4, EXT6)) {
      packets(lab.pod(), "udp", "-", "40000", ext, single, "3");
    }
    Map<String, Long> seen = seen(lab.ext());
    assertEquals(0L, count(seen, "src=" + POD4 + "/udp"), "un-NATed (IPv4): " + seen);
    assertEquals(0L, count(seen, "src=" + POD6 + "/udp"), "un-NATed (IPv6): " + seen);
    assertEquals(3L, count(seen, "src=192.0.2.1/udp"), "masqueraded (IPv4): " + seen);
    assertEquals(3L, count(seen, "src=2001:db8::1/udp"), "masqueraded (IPv6): " + seen);
    assertGuardCounted(node1, Guard.SETTLING);
  }

  // --- lab --------------------------------------------------------------------------------

  private void build(Backend backend, String tag) {
    lab =
        TwoNodeLab.build(
            kernel,
            backend.namespacePrefix(),
            "gd" + backend.shortName() + tag,
            TwoNodeLab.CNI_MASQUERADE);
    sh(
        lab.ext(),
        "ip addr add " + EXCL4 + "/32 dev lo && ip addr add " + EXCL6 + "/128 dev lo nodad");
    List<String> sources = new ArrayList<>(LEAKS);
    sources.addAll(List.of(LB4, LB6));
    String ports = " -m multiport --dports " + TCP + "," + UDP + "," + SINGLE + " -s ";
    for (String src : sources) {
      String ipt = src.contains(":") ? "ip6tables-nft" : "iptables-nft";
      for (String proto : List.of("tcp", "udp")) {
        sh(
            lab.ext(),
            ipt + " -A INPUT -p " + proto + ports + src + counting("src=" + src + "/" + proto));
      }
    }
    for (String dst : List.of(EXT4, EXT6, EXCL4, EXCL6)) {
      String ipt = dst.contains(":") ? "ip6tables-nft" : "iptables-nft";
      sh(
          lab.ext(),
          ipt + " -A INPUT -p udp --dport " + SINGLE + " -d " + dst + counting("dst=" + dst));
    }
    start(lab.ext(), FLOWS, "server", EXT4, EXT6, Integer.toString(TCP));
    sh(
        lab.ext(),
        "for i in $(seq 50); do ss -ltn | grep -q :" + TCP + " && exit 0; sleep 0.1; done; exit 1");
  }

  /** A counting rule (no target): the packet goes on through the chain. */
  private static String counting(String key) {
    return " -m comment --comment " + key;
  }

  /** Packets per counting rule comment in a namespace's iptables-nft tables (both families). */
  private static Map<String, Long> seen(ProcessRunner ns) {
    Map<String, Long> out = new TreeMap<>();
    Pattern rule = Pattern.compile("^\\[(\\d+):\\d+\\] -A .*--comment \"?([^\"\\s]+)\"?");
    for (String save : List.of("iptables-nft-save -c", "ip6tables-nft-save -c")) {
      for (String line : out(ns, save).split("\n")) {
        Matcher m = rule.matcher(line);
        if (m.find()) {
          out.merge(m.group(2), Long.parseLong(m.group(1)), Long::sum);
        }
      }
    }
    return out;
  }

  /** A counting rule's packets; -1 if the rule is missing, so an assertion on it fails. */
  private static long count(Map<String, Long> seen, String key) {
    return seen.getOrDefault(key, -1L);
  }

  private static void resetCounters(ProcessRunner ns) {
    sh(ns, "iptables-nft -Z && ip6tables-nft -Z");
  }

  /** Packets of the test ports the external host received from a pod or node address. */
  private long leaked() {
    Map<String, Long> seen = seen(lab.ext());
    return seen.entrySet().stream()
        .filter(e -> LEAKS.stream().anyMatch(a -> e.getKey().startsWith("src=" + a + "/")))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  private void assertGuardCounted(Dataplane node, Guard guard) {
    Map<String, Long> counters = node.guardCounters();
    assertTrue(
        counters.getOrDefault(guard.label(), 0L) > 0,
        "the " + guard.label() + " guard dropped packets: " + counters + diagnose());
  }

  private Process start(ProcessRunner ns, Path script, String... args) {
    List<String> argv = new ArrayList<>(ns.prefix());
    argv.addAll(List.of("python3", script.toString()));
    argv.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
      processes.add(p);
      return p;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A TCP and a UDP flow from the pod to the external host per family, each answered 5 times. */
  private void openFlows() {
    for (String host : List.of(EXT4, EXT6)) {
      Process p =
          start(lab.pod(), FLOWS, "client", host, Integer.toString(TCP), Integer.toString(UDP));
      AtomicInteger answers = new AtomicInteger();
      List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
      Thread t =
          new Thread(
              () -> {
                try (BufferedReader r =
                    new BufferedReader(
                        new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                  for (String l; (l = r.readLine()) != null; ) {
                    lines.add(l);
                    if (l.startsWith("ok ")) {
                      answers.incrementAndGet();
                    }
                  }
                } catch (IOException e) {
                  lines.add("broken reader " + e);
                }
              });
      t.setDaemon(true);
      t.start();
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (answers.get() < 5 && System.nanoTime() < deadline && p.isAlive()) {
        sleep(50);
      }
      if (answers.get() < 5) {
        fail("flow to " + host + " did not open: " + lines + diagnose());
      }
    }
  }

  /** Conntrack and firewall state of both nodes, for a failure message. */
  private String diagnose() {
    StringBuilder b = new StringBuilder();
    for (ProcessRunner n : List.of(lab.n1(), lab.n2())) {
      b.append("\n--- ").append(TwoNodeLab.nsName(n)).append('\n');
      b.append(out(n, "conntrack -L 2>/dev/null; conntrack -L -f ipv6 2>/dev/null"));
      b.append(out(n, "iptables-nft-save -c; nft list table inet metaleg 2>/dev/null"));
    }
    return b.toString();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  // --- plans ------------------------------------------------------------------------------

  private static Entry entry(Family f, Role role, String gatewayV4, String gatewayV6) {
    boolean v4 = f == Family.V4;
    return new Entry(
        "shop/web",
        f,
        role,
        "test",
        Optional.of("node"),
        role == Role.Forward ? Optional.of(v4 ? gatewayV4 : gatewayV6) : Optional.empty(),
        Optional.of(v4 ? LB4 : LB6),
        List.of(v4 ? POD4 : POD6));
  }

  private static DesiredPlan forwardTo(String gw4, String gw6) {
    return new DesiredPlan(
        List.of(
            entry(Family.V4, Role.Forward, gw4, gw6), entry(Family.V6, Role.Forward, gw4, gw6)));
  }

  private static DesiredPlan gateway() {
    return new DesiredPlan(
        List.of(
            entry(Family.V4, Role.Gateway, null, null),
            entry(Family.V6, Role.Gateway, null, null)));
  }
}
