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
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The transition protocol against the real kernel, with long-lived flows open across each change: a
 * TCP connection (a numbered line every 50 ms, echoed) and a UDP flow from the pod to the external
 * host, in both families. The external host counts the packets of those flows by source address;
 * anything but the LB IP is a leak. Topology: {@link TwoNodeLab}; the pod is on node 1; the CNI
 * masquerade (iptables-nft) would show a leak as node 1's address, an un-NATed one as the pod's.
 */
class TransitionKernelIT {
  static final int TCP = 9100;
  static final int UDP = 9101;
  static final Path FLOWS = Path.of("src/test/resources/kernel/flows.py").toAbsolutePath();
  static final List<String> SOURCES =
      List.of(POD4, POD6, "192.0.2.1", "2001:db8::1", "192.0.2.2", "2001:db8::2", LB4, LB6);

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

  private void build(Backend backend, String tag) {
    lab =
        TwoNodeLab.build(
            kernel,
            backend.namespacePrefix(),
            "tr" + backend.shortName() + tag,
            TwoNodeLab.CNI_MASQUERADE);
    for (Family f : Family.values()) {
      String ipt = f.iptables() + "-nft";
      for (String src : SOURCES) {
        if (src.contains(":") == (f == Family.V6)) {
          for (String proto : List.of("tcp", "udp")) {
            sh(
                lab.ext(),
                ipt
                    + " -A INPUT -p "
                    + proto
                    + " -m multiport --dports "
                    + TCP
                    + ","
                    + UDP
                    + " -s "
                    + src
                    + " -j ACCEPT");
          }
        }
      }
    }
    start(lab.ext(), "server", EXT4, EXT6, Integer.toString(TCP));
    sh(
        lab.ext(),
        "for i in $(seq 50); do ss -ltn | grep -q :" + TCP + " && exit 0; sleep 0.1; done; exit 1");
  }

  private Dataplane agent(Backend backend, ProcessRunner node) {
    return new TransitionDataplane(
        backend.create(node, facts), node, facts.excludeDestinations(), Clock.systemUTC());
  }

  /** Packets of the test flows the external host received, per source address. */
  private Map<String, Long> seen() {
    Map<String, Long> out = new TreeMap<>();
    for (Family f : Family.values()) {
      String save = out(lab.ext(), f.iptables() + "-nft-save -c -t filter");
      Matcher m = Pattern.compile("\\[(\\d+):\\d+\\] -A INPUT -s (\\S+?)(/\\d+)? ").matcher(save);
      while (m.find()) {
        out.merge(m.group(2), Long.parseLong(m.group(1)), Long::sum);
      }
    }
    return out;
  }

  private void resetCounters() {
    sh(lab.ext(), "iptables-nft -Z INPUT && ip6tables-nft -Z INPUT");
  }

  private static long leaked(Map<String, Long> seen) {
    return seen.entrySet().stream()
        .filter(e -> !e.getKey().equals(LB4) && !e.getKey().equals(LB6))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  private Process start(ProcessRunner ns, String... args) {
    List<String> argv = new ArrayList<>(ns.prefix());
    argv.addAll(List.of("python3", FLOWS.toString()));
    argv.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
      processes.add(p);
      return p;
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A long-lived TCP + UDP flow from the pod, with the lines its client printed. */
  private final class Flow {
    final List<String> lines = Collections.synchronizedList(new ArrayList<>());
    final Process process;

    Flow(String host) {
      process = start(lab.pod(), "client", host, Integer.toString(TCP), Integer.toString(UDP));
      Thread t =
          new Thread(
              () -> {
                try (BufferedReader r =
                    new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                  for (String l; (l = r.readLine()) != null; ) {
                    lines.add(l);
                  }
                } catch (java.io.IOException e) {
                  lines.add("broken reader " + e);
                }
              });
      t.setDaemon(true);
      t.start();
    }

    int answers() {
      synchronized (lines) {
        return (int) lines.stream().filter(l -> l.startsWith("ok ")).count();
      }
    }

    /** The longest time between two answers, in milliseconds. */
    long longestStall() {
      long longest = 0;
      long previous = -1;
      synchronized (lines) {
        for (String l : lines) {
          String[] f = l.split(" ");
          if (f[0].equals("ok") && f.length == 3) {
            long t = Long.parseLong(f[2]);
            if (previous >= 0) {
              longest = Math.max(longest, t - previous);
            }
            previous = t;
          }
        }
      }
      return longest;
    }

    Optional<String> broken() {
      synchronized (lines) {
        return lines.stream()
            .filter(l -> l.startsWith("broken") || l.contains("Error"))
            .findFirst();
      }
    }

    void awaitAnswers(int more, String what) {
      int want = answers() + more;
      long deadline = System.nanoTime() + 15_000_000_000L;
      while (answers() < want && System.nanoTime() < deadline && broken().isEmpty()) {
        sleep(50);
      }
      if (answers() < want) {
        synchronized (lines) {
          fail(
              what
                  + ": flow answers "
                  + lines.subList(Math.max(0, lines.size() - 10), lines.size())
                  + diagnose());
        }
      }
    }
  }

  /** Conntrack and firewall counters of both nodes, for a failure message. */
  private String diagnose() {
    StringBuilder b = new StringBuilder();
    for (ProcessRunner n : List.of(lab.n1(), lab.n2())) {
      b.append("\n--- ").append(TwoNodeLab.nsName(n)).append('\n');
      b.append(
          n.run(List.of("sh", "-c", "conntrack -L 2>/dev/null; conntrack -L -f ipv6 2>/dev/null"))
              .stdout());
      b.append(
          n.run(
                  List.of(
                      "sh",
                      "-c",
                      "iptables-nft-save -c; nft list table inet metaleg 2>/dev/null; ip rule; ip route show table all | grep -v local"))
              .stdout());
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

  private static Entry entry(
      String service, Family f, Role role, String gatewayV4, String gatewayV6) {
    return entry(service, f, role, gatewayV4, gatewayV6, f == Family.V4 ? POD4 : POD6);
  }

  private static Entry entry(
      String service, Family f, Role role, String gatewayV4, String gatewayV6, String source) {
    boolean v4 = f == Family.V4;
    return new Entry(
        service,
        f,
        role,
        "test",
        role == Role.Reject ? Optional.empty() : Optional.of("node"),
        role == Role.Forward ? Optional.of(v4 ? gatewayV4 : gatewayV6) : Optional.empty(),
        Optional.of(v4 ? LB4 : LB6),
        List.of(source));
  }

  private static DesiredPlan forwardTo(String gw4, String gw6) {
    return new DesiredPlan(
        List.of(
            entry("shop/web", Family.V4, Role.Forward, gw4, gw6),
            entry("shop/web", Family.V6, Role.Forward, gw4, gw6)));
  }

  /** The gateway of shop/web, whose only endpoints are {@code v4} and {@code v6}. */
  private static DesiredPlan gatewayOf(String v4, String v6) {
    return new DesiredPlan(
        List.of(
            entry("shop/web", Family.V4, Role.Gateway, null, null, v4),
            entry("shop/web", Family.V6, Role.Gateway, null, null, v6)));
  }

  private static DesiredPlan gateway() {
    return gatewayOf(POD4, POD6);
  }

  private List<Flow> openFlows() {
    List<Flow> flows = List.of(new Flow(EXT4), new Flow(EXT6));
    for (Flow f : flows) {
      f.awaitAnswers(5, "before the change");
    }
    return flows;
  }

  /**
   * New connections opened while the gateway programs a change, after each of the sync's kernel
   * commands: node 2 becomes the Service's gateway (the pod's node already forwards to it, and it
   * drops what it cannot SNAT yet), then the pod leaves the Service, which keeps another endpoint
   * (drained, while its node still forwards): nothing may leave with a pod or node address, and
   * while draining every one leaves with the LB IP.
   */
  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void connectionsOpenedDuringTheGatewaysSyncLeaveWithTheLbIp(Backend backend) {
    build(backend, "mid");
    OpensFlows opens = new OpensFlows(lab.n2());
    Dataplane node1 = agent(backend, lab.n1());
    Dataplane node2 =
        new TransitionDataplane(
            backend.create(opens, facts), opens, facts.excludeDestinations(), Clock.systemUTC());
    lab.announce("192.0.2.2", "2001:db8::2");
    node2.sync(DesiredPlan.empty(), true); // nothing to do yet
    node1.sync(forwardTo("192.0.2.2", "2001:db8::2"), true); // node 1 is first: node 2 drops
    resetCounters();

    opens.sent = 0;
    node2.sync(gateway(), false); // node 2 becomes the Service's gateway
    Map<String, Long> seen = seen();
    assertTrue(opens.sent > 0, "connections were opened during the sync");
    assertEquals(0, leaked(seen), "joining: no packet with a pod or node address: " + seen);
    resetCounters();

    opens.sent = 0;
    node2.sync(gatewayOf("10.244.2.7", "fd00:10:244:2::7"), false); // the pod left: drained
    seen = seen();
    assertTrue(opens.sent > 0, "connections were opened during the sync");
    assertEquals(0, leaked(seen), "leaving: no packet with a pod or node address: " + seen);
    assertEquals(opens.sent, seen.getOrDefault(LB4, 0L), "every IPv4 one with the LB IP: " + seen);
    assertEquals(opens.sent, seen.getOrDefault(LB6, 0L), "every IPv6 one with the LB IP: " + seen);
  }

  /**
   * Like the joining step above, but node 2's agent restarted meanwhile: it does not know the
   * previous treatments, so nothing is quarantined, and only the order of its first sync (the
   * gateway sets filled after the SNAT rules) keeps the pod's new connections from leaving.
   */
  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void aRestartedAgentThatFindsItselfTheGatewayLeaksNothingWhileItProgramsIt(Backend backend) {
    build(backend, "rst");
    Dataplane node1 = agent(backend, lab.n1());
    lab.announce("192.0.2.2", "2001:db8::2");
    agent(backend, lab.n2()).sync(DesiredPlan.empty(), true); // the agent before its restart
    node1.sync(forwardTo("192.0.2.2", "2001:db8::2"), true);
    resetCounters();

    OpensFlows opens = new OpensFlows(lab.n2());
    Dataplane restarted =
        new TransitionDataplane(
            backend.create(opens, facts), opens, facts.excludeDestinations(), Clock.systemUTC());
    restarted.sync(gateway(), true);
    Map<String, Long> seen = seen();
    assertTrue(opens.sent > 0, "connections were opened during the sync");
    assertEquals(0, leaked(seen), "no packet with a pod or node address: " + seen);
  }

  /**
   * Node 2's runner: after each command it runs, the pod opens a new UDP flow (one datagram, a new
   * source port) to the external host in both families.
   */
  private final class OpensFlows implements CommandRunner {
    private final ProcessRunner node;
    private int port = 41000;
    int sent;

    OpensFlows(ProcessRunner node) {
      this.node = node;
    }

    @Override
    public Result run(List<String> argv, String stdin) {
      Result r = node.run(argv, stdin);
      String p = Integer.toString(port++);
      sent++;
      for (String ext : List.of(EXT4, EXT6)) {
        packets(lab.pod(), "udp", "-", p, ext, Integer.toString(UDP), "1");
      }
      return r;
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void aForwardingNodeThatBecomesTheGatewayKeepsItsPodsConnectionsAndLeaksNothing(Backend backend) {
    build(backend, "fg");
    Dataplane node1 = agent(backend, lab.n1());
    Dataplane node2 = agent(backend, lab.n2());
    node2.sync(gateway(), true);
    node1.sync(forwardTo("192.0.2.2", "2001:db8::2"), true);
    List<Flow> flows = openFlows();
    assertEquals(0, leaked(seen()), "before the change: " + seen());
    resetCounters();

    // MetalLB moves the LB IPs to node 1 first (gratuitous ARP), then the plans follow
    lab.announce("192.0.2.1", "2001:db8::1");
    node1.sync(gateway(), false);
    node2.sync(DesiredPlan.empty(), false);
    for (Flow f : flows) {
      f.awaitAnswers(20, "after node 1 became the gateway");
      assertEquals(Optional.empty(), f.broken(), "the connection survived the switch");
      assertTrue(f.longestStall() < 5000, "longest stall " + f.longestStall() + " ms");
    }
    Map<String, Long> seen = seen();
    assertEquals(0, leaked(seen), "no packet with a pod or node address: " + seen);
    assertTrue(seen.getOrDefault(LB4, 0L) > 0 && seen.getOrDefault(LB6, 0L) > 0, "LB IPs: " + seen);
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void theOldGatewaysOwnPodMovesToTheNewGatewayWithoutReset(Backend backend) {
    build(backend, "gf");
    Dataplane node1 = agent(backend, lab.n1());
    Dataplane node2 = agent(backend, lab.n2());
    lab.announce("192.0.2.1", "2001:db8::1");
    node1.sync(gateway(), true);
    List<Flow> flows = openFlows();
    resetCounters();

    // failover to node 2: its plan first (the controller writes the new gateway first)
    lab.announce("192.0.2.2", "2001:db8::2");
    node2.sync(gateway(), true);
    node1.sync(forwardTo("192.0.2.2", "2001:db8::2"), false);
    for (Flow f : flows) {
      f.awaitAnswers(20, "after the failover to node 2");
      assertEquals(Optional.empty(), f.broken(), "the connection survived the failover");
      assertTrue(f.longestStall() < 5000, "longest stall " + f.longestStall() + " ms");
    }
    Map<String, Long> seen = seen();
    assertEquals(0, leaked(seen), "no packet with a pod or node address: " + seen);
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void removingTheLabelNeverLetsThePodAddressOut(Backend backend) {
    build(backend, "rm");
    Dataplane node1 = agent(backend, lab.n1());
    Dataplane node2 = agent(backend, lab.n2());
    node2.sync(gateway(), true);
    node1.sync(forwardTo("192.0.2.2", "2001:db8::2"), true);
    List<Flow> flows = openFlows();
    resetCounters();

    node1.sync(DesiredPlan.empty(), false);
    node2.sync(DesiredPlan.empty(), false);
    sleep(1500); // the flows keep sending (or end, since their source address must change)
    for (Flow f : flows) {
      assertTrue(f.answers() > 0 || f.broken().isPresent(), "the client ran: " + f.lines);
    }
    Map<String, Long> seen = seen();
    assertEquals(
        0L,
        seen.getOrDefault(POD4, 0L) + seen.getOrDefault(POD6, 0L),
        "the pod address never reaches the outside: " + seen);
    assertTrue(
        seen.getOrDefault("192.0.2.1", 0L) + seen.getOrDefault(LB4, 0L) > 0,
        "the external host kept hearing from the flows (LB IP or, once unlabelled, the node): "
            + seen);
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "NFTABLES"})
  void aForwarderThatSwitchesBeforeTheNewGatewayIsReadyLeaksNothing(Backend backend) {
    build(backend, "tg");
    Dataplane node1 = agent(backend, lab.n1());
    Dataplane node2 = agent(backend, lab.n2());
    lab.announce("192.0.2.1", "2001:db8::1");
    node1.sync(gateway(), true);
    node2.sync(DesiredPlan.empty(), true); // an agent with nothing to do yet
    List<Flow> flows = openFlows();
    resetCounters();

    // node 1 learns of the failover first; node 2 is a second late
    lab.announce("192.0.2.2", "2001:db8::2");
    node1.sync(forwardTo("192.0.2.2", "2001:db8::2"), false);
    sleep(1000);
    Map<String, Long> early = seen();
    assertEquals(0, leaked(early), "node 2 drops what it cannot SNAT yet: " + early);
    node2.sync(gateway(), false);
    for (Flow f : flows) {
      f.awaitAnswers(20, "after node 2 became the gateway");
      // TCP backs off while node 2 drops: retransmits 0.2, 0.6, 1.4, 3.0, 6.2 s after the loss
      assertEquals(Optional.empty(), f.broken(), "the connection survived a one-second outage");
    }
    Map<String, Long> seen = seen();
    assertEquals(0, leaked(seen), "no packet with a pod or node address: " + seen);
  }
}
