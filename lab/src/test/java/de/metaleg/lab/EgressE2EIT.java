package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.lab.Cluster.Endpoint;
import de.metaleg.lab.Cluster.ServiceRef;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * End to end, against the real controller and agent jars in the lab (see lab-net.sh for the IP
 * plan): pods 1a, 2a, 3a are the endpoints of Service default/web (LB IPs 198.51.100.10 and
 * 2001:db8:51::10); pod 1b on node-1 is no endpoint. Every assertion is on what the external host
 * (203.0.113.10, 2001:db8:203::10) or the excluded host (192.168.77.10, fd77::10) sees, in both
 * families. Scenarios run in order on one lab; each first establishes the state it needs.
 *
 * <p>Runs as root with the tools and jars present; skips with a message otherwise, except with
 * {@code -Dmetaleg.kernelTests=required} (CI), where a missing requirement fails.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EgressE2EIT {
  static final ServiceRef WEB = new ServiceRef("default", "web");
  static final List<String> ENDPOINT_PODS = List.of("1a", "2a", "3a");
  static final List<String> ALL_PODS = List.of("1a", "1b", "2a", "3a");
  static final Duration CONVERGE = Duration.ofSeconds(60);

  /** Status users can trust: Ready for the current generation this soon after the kernel. */
  static final Duration READY_AFTER_KERNEL = Duration.ofSeconds(1);

  static Lab lab;
  static LabPlan plan;
  static Cluster cluster;
  static MetalLbSimulator metallb;
  static ReadyAfterKernel ready;

  @RegisterExtension
  static final TestWatcher LOGS_ON_FAILURE =
      new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
          if (lab != null) {
            System.out.println(
                "E2E " + context.getDisplayName() + " failed; process logs:" + lab.logs(60));
            System.out.println(routerAndNodeState());
          }
        }
      };

  /** The agents' FIREWALL_BACKEND; subclasses run the same scenarios with another backend. */
  String firewallBackend() {
    return "iptables";
  }

  @BeforeAll
  void startLab() throws Exception {
    lab =
        LabSuite.startOrSkip(
            "the end-to-end lab", Optional.empty(), Map.of("FIREWALL_BACKEND", firewallBackend()));
    System.out.println(
        "E2E " + getClass().getSimpleName() + ": FIREWALL_BACKEND=" + firewallBackend());
    plan = lab.plan;
    cluster = lab.clusterWithNodes();
    metallb = new MetalLbSimulator(cluster, plan);
    ready = ReadyAfterKernel.start(lab);
  }

  @AfterAll
  void stopLab() {
    if (ready != null) {
      ready.close();
      ready = null;
    }
    if (lab != null) {
      lab.close();
      lab = null;
    }
  }

  // ---------------------------------------------------------------- scenarios

  @Test
  @Order(1)
  void unlabelledServiceLeavesNodeIPs() {
    ensureService(false);
    metallb.announce(WEB, "node-2");
    awaitSources("no label: every pod keeps its node IP", nodeIPsFor(ALL_PODS));
  }

  @Test
  @Order(2)
  void labelledEndpointPodsEgressWithLbIpOthersKeepNodeIp() {
    ensureService(true);
    metallb.announce(WEB, "node-2");
    Map<String, String[]> expected = lbFor(ENDPOINT_PODS);
    expected.putAll(nodeIPsFor(List.of("1b")));
    awaitSources("label: endpoint pods on all three nodes egress with the LB IP", expected);
    printTable("gateway node-2", expected);
    assertKubectlShowsReady();
  }

  @Test
  @Order(3)
  void excludedDestinationIsNotRerouted() {
    ensureService(true);
    metallb.announce(WEB, "node-2");
    awaitSources("precondition: LB IP egress", lbFor(ENDPOINT_PODS));
    for (String pod : ENDPOINT_PODS) {
      LabPlan.Pod p = plan.pod(pod);
      LabPlan.Node node = plan.node(p.node());
      Probe v4 = probe(pod, plan.excludedIPv4());
      Probe v6 = probe(pod, plan.excludedIPv6());
      assertEquals(node.ipv4(), v4.seen(), "pod " + pod + " -> excluded " + v4);
      assertEquals(node.ipv6(), v6.seen(), "pod " + pod + " -> excluded " + v6);
    }
  }

  @Test
  @Order(4)
  void failoverMovesEgressToTheNewAnnouncer() {
    ensureService(true);
    metallb.announce(WEB, "node-2");
    awaitSources("precondition: LB IP egress via node-2", lbFor(ENDPOINT_PODS));
    long start = System.nanoTime();
    metallb.failover(WEB, "node-3");
    awaitGateway("node-3");
    Duration took =
        awaitSources("after failover to node-3: LB IP egress", lbFor(ENDPOINT_PODS), 1.0);
    System.out.printf(
        "E2E failover node-2 -> node-3: %d ms from the MetalLB change until all pods egress with"
            + " the LB IP again (both families; probes take part of it)%n",
        Duration.ofNanos(System.nanoTime() - start).toMillis());
    assertTrue(took.toSeconds() < 60);

    start = System.nanoTime();
    metallb.failover(WEB, "node-1");
    awaitGateway("node-1");
    awaitSources("after failover to node-1: LB IP egress", lbFor(ENDPOINT_PODS), 1.0);
    System.out.printf(
        "E2E failover node-3 -> node-1: %d ms%n",
        Duration.ofNanos(System.nanoTime() - start).toMillis());
  }

  @Test
  @Order(5)
  void noAnnouncerRejectsQuicklyAndLeaksNothing() {
    ensureService(true);
    metallb.announce(WEB, "node-2");
    awaitSources("precondition: LB IP egress", lbFor(ENDPOINT_PODS));
    RouterCounters.reset();
    metallb.withdraw(WEB);
    assertRejectedWithoutLeak("no announcer");
  }

  @Test
  @Order(6)
  void announcerThatIsNoKnownNodeRejectsQuicklyAndLeaksNothing() {
    ensureService(true);
    metallb.announce(WEB, "node-2");
    awaitSources("precondition: LB IP egress", lbFor(ENDPOINT_PODS));
    RouterCounters.reset();
    metallb.announce(WEB, "node-9");
    assertRejectedWithoutLeak("announcer node-9 is no known node");
    metallb.announce(WEB, "node-2");
    awaitSources("recovery: announced again by node-2", lbFor(ENDPOINT_PODS));
  }

  @Test
  @Order(7)
  void removingTheLabelRestoresNodeIPs() {
    ensureService(true);
    metallb.announce(WEB, "node-2");
    awaitSources("precondition: LB IP egress", lbFor(ENDPOINT_PODS));
    cluster.setOptIn(WEB, false);
    awaitSources("label removed: node IPs again", nodeIPsFor(ALL_PODS));
  }

  @Test
  @Order(8)
  void deletingTheServiceCleansEveryNode() {
    ensureService(true);
    metallb.announce(WEB, "node-2");
    awaitSources("precondition: LB IP egress", lbFor(ENDPOINT_PODS));
    cluster.deleteService(WEB);
    cluster.deleteL2Statuses(WEB); // MetalLB withdraws the status object of a deleted Service
    awaitSources("Service deleted: node IPs again", nodeIPsFor(ALL_PODS));
    List<String> addresses = new ArrayList<>(List.of(plan.lbIPv4(), plan.lbIPv6()));
    for (String pod : ENDPOINT_PODS) {
      addresses.add(plan.pod(pod).ipv4());
      addresses.add(plan.pod(pod).ipv6());
    }
    for (LabPlan.Node n : plan.nodes()) {
      Await.until(
          n.name() + " to drop every per-Service rule, set, ip rule and route",
          CONVERGE,
          () -> describe(NodeState.serviceState(n.ns(), addresses)));
    }
    awaitPlansReady("Service deleted: every node cleaned");
  }

  @Test
  @Order(9)
  void restartingAgentsDropsNoEstablishedConnection() throws Exception {
    ensureService(true);
    metallb.announce(WEB, "node-2");
    awaitSources("precondition: LB IP egress", lbFor(ENDPOINT_PODS));
    // pod 1a is forwarded to node-2, pod 2a is SNATed on node-2: hold one connection each.
    Held v4 = Held.open(plan.pod("1a").ns(), plan.externalIPv4(), plan.echoPort());
    Held v6 = Held.open(plan.pod("2a").ns(), plan.externalIPv6(), plan.echoPort());
    try {
      v4.awaitAnswer(plan.lbIPv4());
      v6.awaitAnswer(plan.lbIPv6());
      lab.stopAgent("node-1");
      lab.stopAgent("node-2");
      // Agents down: rules stay, so established and new connections keep the LB IP.
      v4.awaitAnswer(plan.lbIPv4());
      v6.awaitAnswer(plan.lbIPv6());
      awaitSources("agents of node-1 and node-2 stopped: rules stay", lbFor(ENDPOINT_PODS));
      lab.startAgent("node-1");
      lab.startAgent("node-2");
      awaitPlansReady("agents of node-1 and node-2 restarted");
      v4.awaitAnswer(plan.lbIPv4());
      v6.awaitAnswer(plan.lbIPv6());
      v4.assertNeverBroken();
      v6.assertNeverBroken();
      awaitSources("agents restarted", lbFor(ENDPOINT_PODS));
    } finally {
      v4.close();
      v6.close();
    }
  }

  @Test
  @Order(10)
  void cleanupOnEachNodeLeavesNoMetalEgState() {
    ensureService(true);
    metallb.announce(WEB, "node-2");
    awaitSources("precondition: LB IP egress (state to clean up)", lbFor(ENDPOINT_PODS));
    for (LabPlan.Node n : plan.nodes()) {
      assertTrue(
          !NodeState.leftovers(n.ns()).isEmpty(), n.name() + " should have MetalEG state now");
      lab.stopAgent(n.name());
    }
    for (LabPlan.Node n : plan.nodes()) {
      Cmd.Result r = lab.cleanup(n.name());
      assertEquals(0, r.exitCode(), "--cleanup on " + n.name() + ": " + r.output());
      assertEquals(List.of(), NodeState.leftovers(n.ns()), "MetalEG state left on " + n.name());
    }
    awaitSources("after --cleanup: node IPs again", nodeIPsFor(ALL_PODS));
    for (LabPlan.Node n : plan.nodes()) {
      lab.startAgent(n.name());
    }
  }

  @Test
  @Order(11)
  void gatewayWithoutInternalIPv6RejectsOnlyForwardedIPv6() {
    ensureService(true);
    metallb.announce(WEB, "node-2");
    awaitSources("precondition: LB IP egress", lbFor(ENDPOINT_PODS));
    LabPlan.Node node2 = plan.node("node-2");
    cluster.upsertNode(node2.name(), node2.ipv4(), null);
    try {
      // IPv4 unchanged everywhere; IPv6: node-2's own pod is still SNATed there, while node-1
      // and node-3 cannot route to a gateway without IPv6 InternalIP and must reject.
      Await.until(
          "node-2 without IPv6 InternalIP: v4 LB IP everywhere, v6 rejected on node-1/node-3",
          CONVERGE,
          () -> {
            lab.assertProcessesAlive();
            List<String> wrong = new ArrayList<>();
            for (String pod : ENDPOINT_PODS) {
              Probe v4 = probe(pod, plan.externalIPv4());
              if (!plan.lbIPv4().equals(v4.seen())) {
                wrong.add(pod + " v4 " + v4);
              }
              Probe v6 = probe(pod, plan.externalIPv6());
              boolean ok = pod.equals("2a") ? plan.lbIPv6().equals(v6.seen()) : v6.rejected();
              if (!ok) {
                wrong.add(pod + " v6 " + v6);
              }
            }
            return describe(wrong);
          });
      awaitPlansReady("node-2 without IPv6 InternalIP");
    } finally {
      cluster.upsertNode(node2.name(), node2.ipv4(), node2.ipv6());
    }
    awaitSources("node-2 has its IPv6 InternalIP again", lbFor(ENDPOINT_PODS));
  }

  // ---------------------------------------------------------------- helpers

  static void ensureService(boolean optIn) {
    if (lab.client().services().inNamespace(WEB.namespace()).withName(WEB.name()).get() == null) {
      List<Endpoint> endpoints = plan.endpoints(ENDPOINT_PODS);
      cluster.createService(WEB, optIn, plan.lbIPv4(), plan.lbIPv6(), endpoints);
    } else {
      cluster.setOptIn(WEB, optIn);
    }
  }

  static Map<String, String[]> lbFor(List<String> pods) {
    Map<String, String[]> m = new TreeMap<>();
    pods.forEach(p -> m.put(p, new String[] {plan.lbIPv4(), plan.lbIPv6()}));
    return m;
  }

  static Map<String, String[]> nodeIPsFor(List<String> pods) {
    Map<String, String[]> m = new TreeMap<>();
    for (String p : pods) {
      LabPlan.Node n = plan.node(plan.pod(p).node());
      m.put(p, new String[] {n.ipv4(), n.ipv6()});
    }
    return m;
  }

  static Probe probe(String pod, String host) {
    return probe(pod, host, 2.0);
  }

  static Probe probe(String pod, String host, double timeout) {
    return Probe.run(Lab.SCRIPTS, plan.pod(pod).ns(), host, plan.echoPort(), timeout);
  }

  static Duration awaitSources(String what, Map<String, String[]> expected) {
    return awaitSources(what, expected, 2.0);
  }

  /** Polls until every pod reaches the external host in both families with the expected source. */
  static Duration awaitSources(String what, Map<String, String[]> expected, double timeout) {
    Duration took = awaitSourcesOnly(what, expected, timeout);
    awaitPlansReady(what);
    return took;
  }

  private static Duration awaitSourcesOnly(
      String what, Map<String, String[]> expected, double timeout) {
    return Await.until(
        what,
        CONVERGE,
        () -> {
          lab.assertProcessesAlive();
          List<String> wrong = new ArrayList<>();
          for (var e : expected.entrySet()) {
            Probe v4 = probe(e.getKey(), plan.externalIPv4(), timeout);
            if (!e.getValue()[0].equals(v4.seen())) {
              wrong.add(e.getKey() + " v4 " + v4 + " (want " + e.getValue()[0] + ")");
            }
            Probe v6 = probe(e.getKey(), plan.externalIPv6(), timeout);
            if (!e.getValue()[1].equals(v6.seen())) {
              wrong.add(e.getKey() + " v6 " + v6 + " (want " + e.getValue()[1] + ")");
            }
          }
          return describe(wrong);
        });
  }

  static void assertRejectedWithoutLeak(String why) {
    Await.until(
        why + ": endpoint pods' connections rejected",
        CONVERGE,
        () -> {
          List<String> wrong = new ArrayList<>();
          for (String pod : ENDPOINT_PODS) {
            for (String host : List.of(plan.externalIPv4(), plan.externalIPv6())) {
              Probe p = probe(pod, host, 2.0);
              if (!p.rejected()) {
                wrong.add(pod + " -> " + host + ": " + p);
              }
            }
          }
          return describe(wrong);
        });
    awaitPlansReady(why);
    Map<String, Long> transition = RouterCounters.read();
    System.out.println("E2E " + why + ": router counters across the transition " + transition);
    RouterCounters.reset();
    for (String pod : ENDPOINT_PODS) {
      for (String host : List.of(plan.externalIPv4(), plan.externalIPv6())) {
        Probe p = probe(pod, host, 3.0);
        assertTrue(p.rejected(), why + ": " + pod + " -> " + host + " should be rejected: " + p);
        assertTrue(p.millis() < 1000, why + ": rejection should be quick: " + p);
      }
    }
    Map<String, Long> steady = RouterCounters.read();
    for (String c : List.of("from_node_v4", "from_node_v6", "from_pod_v4", "from_pod_v6")) {
      assertEquals(0L, steady.get(c), why + ": packets reached the external host: " + steady);
    }
    // The non-endpoint pod on node-1 is not affected.
    Map<String, String[]> other = nodeIPsFor(List.of("1b"));
    awaitSources(why + ": pod 1b keeps egress with its node IP", other);
  }

  static void awaitGateway(String node) {
    Await.until(
        "every plan to name " + node + " as gateway",
        CONVERGE,
        () -> {
          List<String> wrong = new ArrayList<>();
          for (EgressPlan p : cluster.plans()) {
            p.getSpec().getEntries().stream()
                .filter(e -> WEB.toString().equals(e.getService()))
                .filter(e -> !node.equals(e.getGatewayNode()))
                .forEach(e -> wrong.add(p.getMetadata().getName() + ": " + e.getGatewayNode()));
          }
          return describe(wrong);
        });
  }

  /**
   * After a step: every plan Ready for its current generation within {@link #READY_AFTER_KERNEL} of
   * its node's kernel being programmed ({@link ReadyAfterKernel}), then the same through a plain
   * list, as `kubectl get egp` shows it.
   */
  static void awaitPlansReady(String step) {
    ready.assertReadyWithin(step, READY_AFTER_KERNEL, CONVERGE);
    Await.until("every plan Ready for its current generation", CONVERGE, EgressE2EIT::notReady);
  }

  /** kubectl-style: what `kubectl get egp` shows in READY, checked against the generation. */
  static Optional<String> notReady() {
    lab.assertProcessesAlive();
    String wrong =
        PlanTable.notReady(cluster.plans(), plan.nodes().stream().map(LabPlan.Node::name).toList());
    return wrong.isEmpty() ? Optional.empty() : Optional.of(wrong);
  }

  /** `kubectl get egp` against the lab's API server (discovery + server-side printing). */
  static void assertKubectlShowsReady() {
    if (!Cmd.run("sh", "-c", "command -v kubectl").ok()) {
      System.out.println("E2E kubectl not installed: checked READY through the API only");
      return;
    }
    Cmd.Result r =
        Cmd.run("kubectl", "--kubeconfig", lab.kubeconfigHost().toString(), "get", "egp").orThrow();
    System.out.println("E2E kubectl get egp\n" + r.output());
    List<String> lines = r.output().lines().toList();
    List<String> header = List.of(lines.get(0).trim().split("\\s+"));
    int ready = header.indexOf("READY");
    assertTrue(ready >= 0, r.output());
    assertEquals(plan.nodes().size(), lines.size() - 1, r.output());
    for (String row : lines.subList(1, lines.size())) {
      assertEquals("True", row.trim().split("\\s+")[ready], row);
    }
  }

  static Optional<String> describe(List<String> wrong) {
    return wrong.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", wrong));
  }

  static void printTable(String title, Map<String, String[]> sources) {
    StringBuilder sb =
        new StringBuilder("E2E source addresses seen by the external host, " + title);
    sources.forEach(
        (pod, ips) -> sb.append(String.format("%n  pod %-3s  %-15s  %s", pod, ips[0], ips[1])));
    System.out.println(sb);
  }

  static String routerAndNodeState() {
    StringBuilder sb = new StringBuilder("===== kernel state\n");
    sb.append(Cmd.run("bash", Lab.LAB_NET.toString(), "status").output());
    sb.append(Cmd.run("bash", Lab.LAB_NET.toString(), "counters").output());
    for (LabPlan.Node n : plan.nodes()) {
      sb.append("--- ").append(n.name()).append('\n');
      sb.append(Cmd.inNs(n.ns(), "iptables-save").output());
      sb.append(Cmd.inNs(n.ns(), "ip6tables-save").output());
      sb.append(Cmd.inNs(n.ns(), "ipset", "list").output());
      sb.append(Cmd.inNs(n.ns(), "ip", "rule").output());
      sb.append(Cmd.inNs(n.ns(), "ip", "-6", "rule").output());
    }
    return sb.toString();
  }

  /** A connection held open from a pod (probe.py --hold), answering every 0.2 s. */
  static final class Held implements AutoCloseable {
    private final Process process;
    private final List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());

    private Held(Process process) {
      this.process = process;
      Thread reader =
          new Thread(
              () -> {
                try (BufferedReader r =
                    new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                  String l;
                  while ((l = r.readLine()) != null) {
                    lines.add(l);
                  }
                } catch (java.io.IOException e) {
                  lines.add("broken reader " + e);
                }
              });
      reader.setDaemon(true);
      reader.start();
    }

    static Held open(String ns, String host, int port) throws java.io.IOException {
      return new Held(
          new ProcessBuilder(
                  "ip",
                  "netns",
                  "exec",
                  ns,
                  "python3",
                  Lab.SCRIPTS.resolve("probe.py").toString(),
                  host,
                  Integer.toString(port),
                  "--hold",
                  "600")
              .redirectErrorStream(true)
              .start());
    }

    /** Waits for a fresh answer on the held connection naming {@code seen}. */
    void awaitAnswer(String seen) {
      int from = lines.size();
      Await.until(
          "a fresh answer on the held connection",
          Duration.ofSeconds(10),
          () -> {
            List<String> fresh;
            synchronized (lines) {
              fresh = new ArrayList<>(lines.subList(from, lines.size()));
            }
            if (fresh.stream().anyMatch(l -> l.startsWith("ok " + seen + " "))) {
              return Optional.empty();
            }
            return Optional.of("alive=" + process.isAlive() + ", lines since: " + fresh);
          });
    }

    void assertNeverBroken() {
      synchronized (lines) {
        assertTrue(
            lines.stream().allMatch(l -> l.startsWith("ok ")),
            "the held connection broke: "
                + lines.stream().filter(l -> !l.startsWith("ok ")).toList());
      }
      assertTrue(process.isAlive(), "the held connection's client exited");
    }

    @Override
    public void close() throws Exception {
      process.getOutputStream().close(); // EOF on stdin ends the client
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }
}
