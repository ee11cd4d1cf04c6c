package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.fail;

import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.lab.Cluster.ServiceRef;
import de.metaleg.lab.MetalLbSimulator.Step;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Transition safety (issue 11), end to end with the real jars: every scenario keeps long-lived
 * flows open from every endpoint pod (1a on node-1, 2a on node-2, 3a on node-3; per family one TCP
 * connection and one UDP socket answering every 100 ms, plus a fresh TCP connection every 50 ms;
 * {@link Flows}, lab/scripts/flows.py) to the external host's flow port 8081 across a change, and
 * asserts what the promise says: every packet from a labelled pod leaves with the LB IP or not at
 * all; established connections survive a MetalLB failover, routine and hard; a routine failover
 * refuses no new connection.
 *
 * <p>Leaks are counted by the router (nft table {@code inet megl_count}, see lab-net.sh): {@code
 * from_pod_*} is any pod source on any port (always a leak), {@code flow_nN_*} a node-N source on
 * the flow port, which only the endpoint pods' flows use (pod 1b's node-1 source on port 8080 is
 * legitimate and not counted there); a node's own TCP RSTs on that port are {@code flow_rst_nN_*}
 * and no leak (docs/lab.md). IP plan as in {@link EgressE2EIT} and lab-net.sh.
 *
 * <p>Assertions are counts (zero broken, zero leaked, zero refused, zero wrong sources), plus one
 * generous time bound: no flow may stall for {@link #STALL_BOUND} (routine) or {@link
 * #HARD_STALL_BOUND} (hard failover). The benchmark ({@link LabFailoverBenchmark}) reports the real
 * stall numbers. Each scenario collects every violated expectation and fails once with all of them,
 * the per-flow report, the router counters and every node's {@code conntrack -L}; raw flow events
 * are in target/lab-logs/flows-*.log.
 *
 * <p>Run on its own: {@code flock /tmp/metaleg-kernel.lock mvn -B verify -pl lab -am
 * -Dtest=TransitionE2EIT -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TransitionE2EIT {
  static final ServiceRef WEB = new ServiceRef("default", "web");
  static final List<String> ENDPOINT_PODS = List.of("1a", "2a", "3a");
  static final Duration CONVERGE = Duration.ofSeconds(60);
  static final double STALL_BOUND = 5_000;
  static final double HARD_STALL_BOUND = 15_000;

  /** How long flows keep running after a change has converged, to show they carry on. */
  static final long HOLD_MS = 3_000;

  static final List<String> FLOWS = Flows.LONG_LIVED;

  /** A flow that answered within this much of a window's end is alive. */
  static final long ALIVE_MS = 2_000;

  /**
   * Scenarios that still fail against the current agent and controller (issue 11, see its note and
   * docs/lab.md): not run by {@code scripts/test}; run them with {@code -Dlab.excludedGroups=}.
   */
  static final String KNOWN_GAP = "transition-gap";

  Lab lab;
  LabPlan plan;
  Cluster cluster;
  MetalLbSimulator metallb;

  String firewallBackend() {
    return "iptables";
  }

  @BeforeAll
  void startLab() throws Exception {
    lab =
        LabSuite.startOrSkip(
            "the transition lab",
            Lab.missingTool("conntrack", "apt-get install -y conntrack"),
            Map.of("FIREWALL_BACKEND", firewallBackend()));
    System.out.println(
        "TRANSITION " + getClass().getSimpleName() + ": FIREWALL_BACKEND=" + firewallBackend());
    plan = lab.plan;
    cluster = lab.clusterWithNodes();
    metallb = new MetalLbSimulator(cluster, plan);
  }

  @AfterAll
  void stopLab() {
    if (lab != null) {
      lab.close();
      lab = null;
    }
  }

  // ---------------------------------------------------------------- scenarios

  /**
   * Control: the same flows and checks with no change at all must find nothing. Shows that a
   * failing transition scenario is the transition's doing, not the harness's or the counters'.
   */
  @Test
  @Order(0)
  void steadyStateControlFindsNothing() throws Exception {
    steady("node-2");
    Checks checks = new Checks("control: no change, gateway node-2");
    try (Flows flows = Flows.start(plan, "control", ENDPOINT_PODS, true)) {
      flows.awaitWarm(5, Duration.ofSeconds(30));
      double t0 = Flows.nowMs();
      Thread.sleep(2 * HOLD_MS);
      double t1 = Flows.nowMs();
      Flows.Report r = flows.report(t0, t1);
      checks.report("steady state", r);
      checks.flows(r, ENDPOINT_PODS, STALL_BOUND, true, true);
      checks.aliveAtEnd(r, ENDPOINT_PODS);
      checks.noFreshFailure(r, ENDPOINT_PODS);
    }
    checks.noLeak(counters(), n -> true);
    checks.assertAll();
  }

  /**
   * Routine failover node-2 → node-3 and failback node-3 → node-2, MetalLB's order (neighbours,
   * delete old status, create without node, status.node 150 ms later). Pod 1a is forwarded all
   * along; 2a is on the old gateway, then the new one; 3a the other way round.
   */
  @Test
  @Tag(KNOWN_GAP)
  @Order(1)
  void routineFailoverAndFailbackKeepEveryFlow() throws Exception {
    steady("node-2");
    Checks checks = new Checks("routine failover node-2 -> node-3 -> node-2");
    try (Flows flows = Flows.start(plan, "routine", ENDPOINT_PODS, true)) {
      flows.awaitWarm(5, Duration.ofSeconds(30));
      double t0 = Flows.nowMs();
      metallb.failover(WEB, "node-3");
      checks.await(() -> awaitGateway("node-3", allNodes()));
      checks.await(() -> awaitPlansReady(allNodes()));
      hold();
      double t1 = Flows.nowMs();
      metallb.failover(WEB, "node-2");
      checks.await(() -> awaitGateway("node-2", allNodes()));
      checks.await(() -> awaitPlansReady(allNodes()));
      hold();
      double t2 = Flows.nowMs();
      Flows.Report r = flows.report(t0, t2);
      checks.report("from the failover to the end of the failback", r);
      checks.flows(r, ENDPOINT_PODS, STALL_BOUND, true, true);
      checks.aliveAtEnd(r, ENDPOINT_PODS);
      checks.noFreshFailure(r, ENDPOINT_PODS);
      checks.report("failover window", flows.report(t0, t1));
      checks.report("failback window", flows.report(t1, t2));
    }
    checks.noLeak(counters(), n -> true);
    checks.assertAll();
  }

  /**
   * Hard failover: node-2 (the gateway) is cut off the LAN (its bridge port drops every frame),
   * then MetalLB moves the announcement to node-3. Pods 1a and 3a survive; their connections must
   * continue. Pod 2a is on the dead node and runs no flows.
   */
  @Test
  @Order(2)
  void hardFailoverKeepsTheSurvivingPodsFlows() throws Exception {
    steady("node-2");
    List<String> survivors = List.of("1a", "3a");
    List<String> alive = List.of("node-1", "node-3");
    Checks checks = new Checks("hard failover: node-2 cut off, MetalLB moves to node-3");
    try (Flows flows = Flows.start(plan, "hard", survivors, true)) {
      flows.awaitWarm(5, Duration.ofSeconds(30));
      double t0 = Flows.nowMs();
      labNet("cut", "node-2");
      try {
        Thread.sleep(
            1_000); // MetalLB's memberlist noticing the dead speaker (much faster than real)
        metallb.failover(WEB, "node-3");
        checks.await(() -> awaitGateway("node-3", alive));
        checks.await(() -> awaitPlansReady(alive));
        hold();
        double t1 = Flows.nowMs();
        Flows.Report r = flows.report(t0, t1);
        checks.report("from the cut to " + HOLD_MS + " ms after convergence", r);
        checks.flows(r, survivors, HARD_STALL_BOUND, true, true);
        checks.aliveAtEnd(r, survivors);
        checks.info(
            "fresh connects refused/timed out during a hard failover (not asserted): "
                + freshFailures(r));
        flows.close();
        checks.noLeak(counters(), n -> true);
      } finally {
        labNet("uncut");
      }
    }
    checks.await(() -> awaitPlansReady(allNodes()));
    checks.assertAll();
  }

  /**
   * Pod 1a leaves the EndpointSlices and rejoins. Its connections may end (their source must
   * change); pod IPs must never reach the external host; a node source is fine only while 1a is no
   * endpoint and only node-1's; once 1a is an endpoint again and the plans are Ready, no node
   * source at all (a connection that started with node-1's IP must not go on with it). 2a and 3a
   * keep their flows.
   */
  @Test
  @Order(3)
  void endpointLeavesAndRejoins() throws Exception {
    steady("node-2");
    Checks checks = new Checks("pod 1a leaves the Service's EndpointSlices and rejoins");
    try (Flows flows = Flows.start(plan, "endpoint", ENDPOINT_PODS, true)) {
      flows.awaitWarm(5, Duration.ofSeconds(30));
      double tA = Flows.nowMs();
      Map<String, Long> cA = counters();
      cluster.setEndpoints(WEB, plan.endpoints(List.of("2a", "3a")));
      checks.await(() -> awaitPlansReady(allNodes()));
      checks.await(() -> awaitSource("1a", nodeIPs("1a")));
      hold();
      Map<String, Long> cB = counters();
      cluster.setEndpoints(WEB, plan.endpoints(ENDPOINT_PODS));
      checks.await(() -> awaitPlansReady(allNodes()));
      checks.await(() -> awaitSource("1a", lbIPs()));
      double tC = Flows.nowMs();
      Map<String, Long> cC = counters();
      hold();
      double tD = Flows.nowMs();
      Map<String, Long> cD = counters();
      checks.report("whole run", flows.report(tA, tD));
      checks.noLeak(cA, n -> true, "before 1a leaves");
      checks.noLeak(diff(cC, cA), n -> !n.equals("1"), "while 1a is no endpoint (node-1 allowed)");
      checks.noLeak(diff(cD, cC), n -> true, "after 1a rejoined and the plans are Ready");
      checks.info("node-1 packets while 1a was no endpoint: " + flowNode(diff(cB, cA), "1"));
      checks.flows(flows.report(tA, tD), List.of("2a", "3a"), STALL_BOUND, true, true);
      Flows.Report after = flows.report(tC, tD);
      checks.flows(after, List.of("1a"), Double.MAX_VALUE, false, true);
      checks.aliveAtEnd(after, List.of("1a"));
    }
    checks.assertAll();
  }

  /**
   * The opt-in label is removed and re-added. Every pod's connections may end; no pod IP ever; no
   * node source before the removal and once the plans are Ready again.
   */
  @Test
  @Order(4)
  void labelRemovedAndReAdded() throws Exception {
    steady("node-2");
    Checks checks = new Checks("label removed and re-added");
    try (Flows flows = Flows.start(plan, "label", ENDPOINT_PODS, true)) {
      flows.awaitWarm(5, Duration.ofSeconds(30));
      double tA = Flows.nowMs();
      Map<String, Long> cA = counters();
      cluster.setOptIn(WEB, false);
      checks.await(() -> awaitPlansReady(allNodes()));
      for (String pod : ENDPOINT_PODS) {
        checks.await(() -> awaitSource(pod, nodeIPs(pod)));
      }
      hold();
      cluster.setOptIn(WEB, true);
      checks.await(() -> awaitPlansReady(allNodes()));
      for (String pod : ENDPOINT_PODS) {
        checks.await(() -> awaitSource(pod, lbIPs()));
      }
      double tC = Flows.nowMs();
      Map<String, Long> cC = counters();
      hold();
      double tD = Flows.nowMs();
      Map<String, Long> cD = counters();
      checks.report("whole run", flows.report(tA, tD));
      checks.noLeak(cA, n -> true, "before the label is removed");
      checks.noLeak(diff(cC, cA), n -> false, "while unlabelled (node sources allowed)");
      checks.noLeak(diff(cD, cC), n -> true, "after the label is back and the plans are Ready");
      Flows.Report after = flows.report(tC, tD);
      checks.flows(after, ENDPOINT_PODS, Double.MAX_VALUE, false, true);
      checks.aliveAtEnd(after, ENDPOINT_PODS);
    }
    checks.assertAll();
  }

  /**
   * The gateway's Node object is deleted while MetalLB still names it: nobody can be the gateway,
   * so the other nodes' pods (1a, 3a) must be rejected, and nothing may leak meanwhile. node-2's
   * own plan is deleted with its Node; its agent fails static (docs/agent.md), so 2a keeps leaving
   * with the LB IP through node-2 — no leak either way, which the router counters check.
   */
  @Test
  @Order(5)
  void gatewayNodeDeletedRejectsWithoutLeak() throws Exception {
    steady("node-2");
    Checks checks = new Checks("gateway Node object node-2 deleted");
    try {
      try (Flows flows = Flows.start(plan, "node-deleted", ENDPOINT_PODS, true)) {
        flows.awaitWarm(5, Duration.ofSeconds(30));
        double t0 = Flows.nowMs();
        cluster.deleteNode("node-2");
        // What the garbage collector does on a real cluster (the lab's API server has none):
        // EgressPlan/node-2 has an ownerReference to Node/node-2.
        cluster.client().resources(EgressPlan.class).withName("node-2").delete();
        checks.await(() -> awaitPlansReady(List.of("node-1", "node-3")));
        List<String> rejected = List.of("1a", "3a");
        for (String pod : rejected) {
          checks.await(() -> awaitRejected(pod));
        }
        hold();
        double t1 = Flows.nowMs();
        Flows.Report r = flows.report(t0, t1);
        checks.report("from the deletion to " + HOLD_MS + " ms after rejection", r);
        checks.flows(r, ENDPOINT_PODS, Double.MAX_VALUE, false, true);
        Flows.Report end = flows.report(t1 - 1_000, t1);
        for (Flows.FreshStats f : end.fresh()) {
          checks.check(
              f.ok() == 0 || !rejected.contains(f.pod()),
              "pod "
                  + f.pod()
                  + " "
                  + f.flow()
                  + ": "
                  + f.ok()
                  + " fresh connects succeeded in the last second, want all rejected");
        }
        flows.close();
        checks.noLeak(counters(), n -> true);
      }
    } finally {
      LabPlan.Node n2 = plan.node("node-2");
      cluster.upsertNode(n2.name(), n2.ipv4(), n2.ipv6());
    }
    checks.assertAll();
  }

  /**
   * node-1's agent is SIGKILLed mid-failover (old status deleted, new one not written yet) and
   * restarted 2 s later. No leak; the pods on the other nodes keep their flows; 1a's flows stall
   * while its node is stale but none breaks, and all answer again within four times the agent's
   * down time plus 5 s (TCP retransmission backoff at both ends).
   *
   * <p>A known gap on both backends: in about 1 of 7 full runs (CI, 2026-12-02: once on nftables,
   * once on iptables) one of 1a's TCP connections was reset after node-1's agent was back, with no
   * leak. The likely cause is the port collision {@link
   * #anIdleConnectionSurvivesAFailoverWhenANewGatewaysPodConnectsFromItsPort} makes certain: while
   * node-1 still sends 1a to node-2, node-3 has not picked up 1a's flows, and each of the 2a/3a
   * fresh connects it SNATs (20 per second, keeping their ports) may take one of their ports.
   */
  @Test
  @Tag(KNOWN_GAP)
  @Order(6)
  void agentKilledMidFailover() throws Exception {
    steady("node-2");
    Checks checks =
        new Checks("agent of node-1 SIGKILLed mid-failover node-2 -> node-3, restarted");
    try (Flows flows = Flows.start(plan, "agent-killed", ENDPOINT_PODS, true)) {
      flows.awaitWarm(5, Duration.ofSeconds(30));
      double t0 = Flows.nowMs();
      double[] killed = {t0};
      metallb.failover(
          WEB,
          "node-3",
          step -> {
            if (step == Step.OLD_STATUS_DELETED) {
              lab.killAgent("node-1");
              killed[0] = Flows.nowMs();
            }
          });
      checks.await(() -> awaitGateway("node-3", List.of("node-2", "node-3")));
      checks.await(() -> awaitPlansReady(List.of("node-2", "node-3")));
      Thread.sleep(2_000);
      lab.startAgent("node-1");
      checks.await(() -> awaitPlansReady(allNodes()));
      // Until node-1's agent is back its kernel still routes 1a to node-2, whose replies MetalLB
      // already sends to node-3: 1a's flows stall for that long. Both ends' retransmission timers
      // have doubled meanwhile: the client's next try (which node-3 picks up) may come up to the
      // outage again later, the server's next try after that up to twice that (measured: down
      // 4.9 s, TCP stall 13.4 s, UDP 4.6 s).
      double down = Flows.nowMs() - killed[0];
      double oneAStallBound = 4 * down + 5_000;
      checks.await(
          () ->
              flows.awaitAnsweringSince(
                  killed[0], ENDPOINT_PODS, Duration.ofMillis((long) oneAStallBound)));
      hold();
      double t1 = Flows.nowMs();
      Flows.Report r = flows.report(t0, t1);
      checks.report(
          String.format(
              "from the failover until every flow answered again and %d ms more (node-1's agent"
                  + " down %.0f ms, 1a stall bound %.0f ms)",
              HOLD_MS, down, oneAStallBound),
          r);
      checks.flows(r, List.of("2a", "3a"), STALL_BOUND, true, true);
      checks.flows(r, List.of("1a"), oneAStallBound, true, true);
      checks.aliveAtEnd(r, ENDPOINT_PODS);
      checks.info("fresh connects refused/timed out (not asserted): " + freshFailures(r));
      flows.close();
      checks.noLeak(counters(), n -> true);
    }
    checks.assertAll();
  }

  /**
   * Idle pooled connections (a database pool, an SMTP relay) of pod 1a across a routine failover
   * node-2 → node-3, after which pod 3a, on the new gateway, connects to the same server from
   * exactly the port each of them has on the LB IP. Known gap (issue 11): node-3 has none of
   * node-2's conntrack entries and SNAT keeps 3a's port, so the server sees a SYN on an established
   * 4-tuple, and the challenge ACK / RST exchange that follows resets 1a's idle connection ("broken
   * rst", both families, both backends). Any pod's new connection through a new gateway can hit a
   * port of a connection the gateway has not picked up yet (an idle one has no packet to be picked
   * up with); this scenario makes the collision certain. A split of the port space between
   * consecutive gateways does not fix it: it remaps every pod port outside the half, and a remapped
   * flow cannot be picked up by the next gateway (it keeps the pod's port, which the server does
   * not know). What would: the new gateway knowing the old one's bindings (conntrack state sync),
   * not built.
   */
  @Test
  @Tag(KNOWN_GAP)
  @Order(7)
  void anIdleConnectionSurvivesAFailoverWhenANewGatewaysPodConnectsFromItsPort() throws Exception {
    steady("node-2");
    Checks checks =
        new Checks(
            "idle pooled connections of 1a across failover node-2 -> node-3; 3a then connects from"
                + " their LB-side ports");
    List<String> hosts = List.of(plan.externalIPv4(), plan.externalIPv6());
    List<Pooled> pooled = new ArrayList<>();
    try (Flows flows = Flows.start(plan, "pooled", ENDPOINT_PODS, true)) {
      List<Integer> lbPorts = new ArrayList<>();
      for (String host : hosts) {
        Pooled p = Pooled.open(plan, "1a", host);
        pooled.add(p);
        int port = p.localPort();
        lbPorts.add(port < 0 ? -1 : lbSidePort("node-2", "1a", host, port));
        checks.info("1a pooled to " + host + ": " + p.connected + ", LB-side port " + lbPorts);
      }
      if (lbPorts.contains(-1)) {
        fail("1a's pooled connections did not open through node-2: " + checks.details);
      }
      flows.awaitWarm(5, Duration.ofSeconds(30));
      double t0 = Flows.nowMs();
      metallb.failover(WEB, "node-3");
      checks.await(() -> awaitGateway("node-3", allNodes()));
      checks.await(() -> awaitPlansReady(allNodes()));
      for (int i = 0; i < hosts.size(); i++) {
        String lb = i == 0 ? plan.lbIPv4() : plan.lbIPv6();
        String fromPort = Pooled.once(plan, "3a", hosts.get(i), lbPorts.get(i));
        checks.info("3a from port " + lbPorts.get(i) + " to " + hosts.get(i) + ": " + fromPort);
        checks.check(
            fromPort.startsWith("connected") && fromPort.endsWith("ans " + lb),
            "3a's connection from port "
                + lbPorts.get(i)
                + " did not answer with "
                + lb
                + ": "
                + fromPort);
        String used = pooled.get(i).use();
        checks.info("1a's pooled connection to " + hosts.get(i) + " used again: " + used);
        checks.check(
            used.equals("ans " + lb),
            "1a's idle connection to "
                + hosts.get(i)
                + " did not survive (LB-side port "
                + lbPorts.get(i)
                + "): "
                + used);
      }
      hold();
      double t1 = Flows.nowMs();
      Flows.Report r = flows.report(t0, t1);
      checks.report("from the failover to " + HOLD_MS + " ms after the pooled connections' use", r);
      checks.flows(r, ENDPOINT_PODS, STALL_BOUND, true, true);
      checks.aliveAtEnd(r, ENDPOINT_PODS);
      checks.info("fresh connects refused/timed out (not asserted): " + freshFailures(r));
      flows.close();
      checks.noLeak(counters(), n -> true);
    } finally {
      pooled.forEach(Pooled::close);
    }
    checks.assertAll();
  }

  /**
   * The port {@code node} SNATed {@code pod}'s TCP connection from {@code localPort} to {@code
   * host} to (the reply's destination port in its conntrack entry), or -1.
   */
  int lbSidePort(String node, String pod, String host, int localPort) {
    boolean v6 = host.contains(":");
    String podIp = v6 ? plan.pod(pod).ipv6() : plan.pod(pod).ipv4();
    Cmd.Result r =
        Cmd.run(
            "ip",
            "netns",
            "exec",
            plan.node(node).ns(),
            "conntrack",
            "-L",
            "-p",
            "tcp",
            "-f",
            v6 ? "ipv6" : "ipv4",
            "--orig-src",
            podIp,
            "--orig-port-src",
            Integer.toString(localPort));
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "sport="
                    + localPort
                    + " dport="
                    + plan.flowPort()
                    + " .*? sport="
                    + plan.flowPort()
                    + " dport=(\\d+)")
            .matcher(r.output());
    return m.find() ? Integer.parseInt(m.group(1)) : -1;
  }

  // ---------------------------------------------------------------- fixtures

  /**
   * Labelled Service with all three endpoints, announced by {@code gateway}, converged; counters
   * reset.
   */
  void steady(String gateway) {
    if (lab.client().services().inNamespace(WEB.namespace()).withName(WEB.name()).get() == null) {
      cluster.createService(WEB, true, plan.lbIPv4(), plan.lbIPv6(), plan.endpoints(ENDPOINT_PODS));
    } else {
      cluster.setOptIn(WEB, true);
      cluster.setEndpoints(WEB, plan.endpoints(ENDPOINT_PODS));
    }
    for (LabPlan.Node n : plan.nodes()) {
      if (cluster.client().nodes().withName(n.name()).get() == null) {
        cluster.upsertNode(n.name(), n.ipv4(), n.ipv6());
      }
    }
    metallb.announce(WEB, gateway);
    awaitGateway(gateway, allNodes());
    awaitPlansReady(allNodes());
    for (String pod : ENDPOINT_PODS) {
      awaitSource(pod, lbIPs());
    }
    RouterCounters.reset();
  }

  List<String> allNodes() {
    return plan.nodes().stream().map(LabPlan.Node::name).toList();
  }

  String[] lbIPs() {
    return new String[] {plan.lbIPv4(), plan.lbIPv6()};
  }

  String[] nodeIPs(String pod) {
    LabPlan.Node n = plan.node(plan.pod(pod).node());
    return new String[] {n.ipv4(), n.ipv6()};
  }

  static void hold() throws InterruptedException {
    Thread.sleep(HOLD_MS); // observation time, not a wait for a condition
  }

  static void labNet(String... args) {
    List<String> cmd = new ArrayList<>(List.of("bash", Lab.LAB_NET.toString()));
    cmd.addAll(List.of(args));
    Cmd.run(cmd, 30).orThrow();
  }

  /** A fresh probe on port 8080 sees {@code want} (v4, v6) from the pod. */
  void awaitSource(String pod, String[] want) {
    Await.until(
        "pod " + pod + " to egress with " + String.join(" / ", want),
        CONVERGE,
        () -> {
          lab.assertProcessesAlive();
          List<String> wrong = new ArrayList<>();
          Probe v4 =
              Probe.run(Lab.SCRIPTS, plan.pod(pod).ns(), plan.externalIPv4(), plan.echoPort(), 1.0);
          if (!want[0].equals(v4.seen())) {
            wrong.add("v4 " + v4);
          }
          Probe v6 =
              Probe.run(Lab.SCRIPTS, plan.pod(pod).ns(), plan.externalIPv6(), plan.echoPort(), 1.0);
          if (!want[1].equals(v6.seen())) {
            wrong.add("v6 " + v6);
          }
          return wrong.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", wrong));
        });
  }

  void awaitRejected(String pod) {
    Await.until(
        "pod " + pod + " to be rejected in both families",
        Duration.ofSeconds(20),
        () -> {
          List<String> wrong = new ArrayList<>();
          for (String host : List.of(plan.externalIPv4(), plan.externalIPv6())) {
            Probe p = Probe.run(Lab.SCRIPTS, plan.pod(pod).ns(), host, plan.echoPort(), 1.0);
            if (!p.rejected()) {
              wrong.add(host + ": " + p);
            }
          }
          return wrong.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", wrong));
        });
  }

  void awaitGateway(String node, List<String> planNodes) {
    Await.until(
        "the plans of " + planNodes + " to name " + node + " as gateway",
        CONVERGE,
        () -> {
          List<String> wrong = new ArrayList<>();
          for (EgressPlan p : cluster.plans()) {
            if (!planNodes.contains(p.getMetadata().getName())) {
              continue;
            }
            p.getSpec().getEntries().stream()
                .filter(e -> WEB.toString().equals(e.getService()))
                .filter(e -> !node.equals(e.getGatewayNode()))
                .forEach(e -> wrong.add(p.getMetadata().getName() + ": " + e.getGatewayNode()));
          }
          return wrong.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", wrong));
        });
  }

  void awaitPlansReady(List<String> nodes) {
    Await.until(
        "the plans of " + nodes + " Ready for their current generation",
        CONVERGE,
        () -> {
          lab.assertProcessesAlive();
          String wrong = PlanTable.notReady(cluster.plans(), nodes);
          return wrong.isEmpty() ? Optional.empty() : Optional.of(wrong);
        });
  }

  static Map<String, Long> counters() {
    return RouterCounters.read();
  }

  static Map<String, Long> diff(Map<String, Long> later, Map<String, Long> earlier) {
    return RouterCounters.diff(later, earlier);
  }

  static long flowNode(Map<String, Long> c, String node) {
    return c.getOrDefault("flow_n" + node + "_v4", 0L)
        + c.getOrDefault("flow_n" + node + "_v6", 0L);
  }

  static String freshFailures(Flows.Report r) {
    StringBuilder sb = new StringBuilder();
    for (Flows.FreshStats f : r.fresh()) {
      sb.append(
          String.format(
              "%s %s refused %d timeout %d other %d; ",
              f.pod(), f.flow(), f.refused(), f.timeout(), f.other()));
    }
    return sb.toString();
  }

  /**
   * Every expectation of one scenario: violations are collected, so a failing run names them all
   * (with numbers) instead of the first one only.
   */
  final class Checks {
    final String scenario;
    final List<String> failures = new ArrayList<>();
    final StringBuilder details = new StringBuilder();

    Checks(String scenario) {
      this.scenario = scenario;
    }

    void check(boolean ok, String failure) {
      if (!ok) {
        failures.add(failure);
      }
    }

    void info(String line) {
      details.append("  ").append(line).append('\n');
    }

    /** A convergence wait whose timeout is one more failure, not the end of the scenario. */
    void await(Runnable wait) {
      try {
        wait.run();
      } catch (AssertionError e) {
        if (e.getMessage() != null && e.getMessage().contains(" exited with ")) {
          throw e; // a dead process: nothing after this is meaningful
        }
        failures.add(e.getMessage());
      }
    }

    void report(String window, Flows.Report r) {
      details.append("  ").append(window).append(":\n").append(r.table());
    }

    /**
     * Per flow of {@code pods}: no break ({@code unbroken}), stall below {@code stallBound}, every
     * answer with the LB IP ({@code lbOnly}); and each TCP/UDP flow answered at all.
     */
    void flows(
        Flows.Report r, List<String> pods, double stallBound, boolean unbroken, boolean lbOnly) {
      for (String pod : pods) {
        for (String flow : FLOWS) {
          Optional<Flows.FlowStats> s =
              r.flows().stream()
                  .filter(f -> f.pod().equals(pod) && f.flow().equals(flow))
                  .findFirst();
          if (s.isEmpty()) {
            failures.add(pod + " " + flow + ": no event at all in the window");
            continue;
          }
          Flows.FlowStats f = s.get();
          if (unbroken) {
            check(f.broken().isEmpty(), pod + " " + flow + ": broken " + f.brokenSummary());
          }
          check(
              f.maxStallMs() < stallBound,
              String.format(
                  "%s %s: stalled %.0f ms (bound %.0f ms)", pod, flow, f.maxStallMs(), stallBound));
          if (lbOnly) {
            check(
                f.wrongSources() == 0,
                pod
                    + " "
                    + flow
                    + ": "
                    + f.wrongSources()
                    + " answers without the LB IP, sources "
                    + f.sources());
          }
        }
        for (Flows.FreshStats f : r.fresh()) {
          if (f.pod().equals(pod) && lbOnly) {
            check(
                f.wrongSources() == 0,
                pod
                    + " "
                    + f.flow()
                    + ": "
                    + f.wrongSources()
                    + " fresh connects answered without the LB IP");
          }
        }
      }
    }

    /**
     * The TCP and UDP flows of {@code pods} answered within the window's last {@link #ALIVE_MS}
     * (they answer every 100 ms when healthy; the margin is for a loaded machine).
     */
    void aliveAtEnd(Flows.Report r, List<String> pods) {
      for (Flows.FlowStats f : r.flows()) {
        if (pods.contains(f.pod()) && FLOWS.contains(f.flow())) {
          check(
              f.lastAnswer() >= r.to() - ALIVE_MS,
              String.format(
                  "%s %s: no answer in the window's last %d ms (last %s)",
                  f.pod(),
                  f.flow(),
                  ALIVE_MS,
                  f.lastAnswer() < 0
                      ? "never"
                      : String.format("%.0f ms before the end", r.to() - f.lastAnswer())));
        }
      }
    }

    void noFreshFailure(Flows.Report r, List<String> pods) {
      for (Flows.FreshStats f : r.fresh()) {
        if (pods.contains(f.pod())) {
          check(
              f.failed() == 0,
              String.format(
                  "%s %s: %d of %d fresh connects failed (refused %d, timeout %d, other %d)",
                  f.pod(),
                  f.flow(),
                  f.failed(),
                  f.failed() + f.ok(),
                  f.refused(),
                  f.timeout(),
                  f.other()));
        }
      }
    }

    void noLeak(Map<String, Long> c, Predicate<String> nodeIsLeak) {
      noLeak(c, nodeIsLeak, "whole run");
    }

    /**
     * Pod sources are always a leak; node-N sources on the flow port when {@code nodeIsLeak(N)}.
     */
    void noLeak(Map<String, Long> c, Predicate<String> nodeIsLeak, String window) {
      info("router counters, " + window + ": " + c);
      for (String fam : List.of("v4", "v6")) {
        long pod = c.getOrDefault("from_pod_" + fam, 0L);
        check(
            pod == 0,
            window
                + ": "
                + pod
                + " packets with a pod source ("
                + fam
                + ") reached the external host");
        for (LabPlan.Node n : plan.nodes()) {
          String id = n.name().substring("node-".length());
          long leaked = c.getOrDefault("flow_n" + id + "_" + fam, 0L);
          if (nodeIsLeak.test(id)) {
            check(
                leaked == 0,
                window
                    + ": "
                    + leaked
                    + " packets of endpoint pods' flows left with "
                    + n.name()
                    + "'s IP ("
                    + fam
                    + ")");
          }
        }
      }
    }

    void assertAll() {
      String text =
          "TRANSITION "
              + TransitionE2EIT.this.getClass().getSimpleName()
              + " ["
              + firewallBackend()
              + "] "
              + scenario
              + ": "
              + (failures.isEmpty() ? "OK" : failures.size() + " violated expectation(s)")
              + "\n"
              + details;
      System.out.println(text);
      if (!failures.isEmpty()) {
        String state =
            Cmd.run("bash", Lab.LAB_NET.toString(), "status").output()
                + Cmd.run(List.of("bash", Lab.LAB_NET.toString(), "conntrack"), 30).output();
        fail(
            scenario
                + ": "
                + failures.size()
                + " violated expectation(s):\n  - "
                + String.join("\n  - ", failures)
                + "\n"
                + details
                + "\n===== router and nodes after the scenario\n"
                + state
                + "\nraw flow events: "
                + Lab.LOGS
                + "/flows-*.log; process logs: "
                + Lab.LOGS);
      }
    }
  }
}
