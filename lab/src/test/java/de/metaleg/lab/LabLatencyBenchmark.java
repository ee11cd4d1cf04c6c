package de.metaleg.lab;

import de.metaleg.lab.Cluster.ServiceRef;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Egress programming latency in the lab (a plain main, not a test; needs root, the lab's tools and
 * the controller and agent jars, like {@link EgressE2EIT}). Starts the lab, creates Service
 * default/web with pods 1a, 2a, 3a as endpoints, announced by node-2, then measures over the
 * repetitions:
 *
 * <ul>
 *   <li><b>new pod IP</b>: pod 1b (node-1) is added to both EndpointSlices; the time until the
 *       external host sees the LB IP from 1b in both families (1b is removed again in between);
 *   <li><b>failover</b>: MetalLB's announcement moves to the next node (ServiceL2Status replaced,
 *       the router's neighbour entries for the LB IPs point at the new node's MAC); the time until
 *       every endpoint pod's connections to the external host succeed with the LB IP in both
 *       families. Replies to the LB IP reach only the new node, so a success means the egress went
 *       through it.
 * </ul>
 *
 * Each pod/family is probed by its own thread, one TCP connection (lab/scripts/probe.py, 0.5 s
 * timeout) after the other; a sample is the time from the change to the end of the last probe that
 * first saw the LB IP, so it includes one probe's run time (printed as the probe floor). Run from
 * the lab module directory:
 *
 * <pre>
 * cd lab && java -cp target/test-classes:target/classes:$(cat target/bench.cp) \
 *     de.metaleg.lab.LabLatencyBenchmark [repetitions, default 20]
 * </pre>
 */
public final class LabLatencyBenchmark {
  static final ServiceRef WEB = new ServiceRef("default", "web");
  static final List<String> ENDPOINT_PODS = List.of("1a", "2a", "3a");
  static final String NEW_POD = "1b";
  static final double PROBE_TIMEOUT = 0.5;

  private final LabPlan plan;
  private final Cluster cluster;
  private final ExecutorService probes = Executors.newCachedThreadPool();

  LabLatencyBenchmark(Lab lab) {
    this.plan = lab.plan;
    this.cluster = new Cluster(lab.client(), "metallb-system");
  }

  public static void main(String[] args) throws Exception {
    int repetitions = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    Lab.exitUnlessRunnable();
    try (Lab lab = Lab.start(Map.of("FIREWALL_BACKEND", "iptables"))) {
      LabLatencyBenchmark b = new LabLatencyBenchmark(lab);
      b.run(repetitions);
      b.probes.shutdownNow();
    }
    System.exit(0);
  }

  void run(int repetitions) throws Exception {
    MetalLbSimulator metallb = new MetalLbSimulator(cluster, plan);
    for (LabPlan.Node n : plan.nodes()) {
      cluster.upsertNode(n.name(), n.ipv4(), n.ipv6());
    }
    cluster.createService(WEB, true, plan.lbIPv4(), plan.lbIPv6(), plan.endpoints(ENDPOINT_PODS));
    metallb.announce(WEB, "node-2");
    awaitLb(ENDPOINT_PODS, Duration.ofSeconds(90));
    List<Long> floor = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      long t = System.nanoTime();
      Probe.run(Lab.SCRIPTS, plan.pod("1a").ns(), plan.externalIPv4(), plan.echoPort(), 2.0);
      floor.add(System.nanoTime() - t);
    }
    print("probe floor (one probe.py connection, steady state)", floor);

    List<Long> newPod = new ArrayList<>();
    List<String> nodes = plan.nodes().stream().map(LabPlan.Node::name).toList();
    List<Long> failover = new ArrayList<>();
    String gateway = "node-2";
    for (int i = 0; i < repetitions; i++) {
      setEndpoints(ENDPOINT_PODS);
      awaitSeen(NEW_POD, plan.pod(NEW_POD).node(), Duration.ofSeconds(60));
      long t = System.nanoTime();
      setEndpoints(List.of("1a", "2a", "3a", NEW_POD));
      newPod.add(awaitLb(List.of(NEW_POD), Duration.ofSeconds(60)) - t);

      gateway = nodes.get((nodes.indexOf(gateway) + 1) % nodes.size());
      t = System.nanoTime();
      metallb.failover(WEB, gateway);
      failover.add(awaitLb(ENDPOINT_PODS, Duration.ofSeconds(60)) - t);
      System.out.printf(
          "repetition %d: new pod %d ms, failover to %s %d ms%n",
          i + 1, newPod.get(i) / 1_000_000, gateway, failover.get(i) / 1_000_000);
    }
    print("EndpointSlice +1 pod IP -> external host sees the LB IP from it (v4+v6)", newPod);
    print("ServiceL2Status move -> all endpoint pods egress via the new node (v4+v6)", failover);
  }

  private void setEndpoints(List<String> pods) {
    for (String family : List.of("IPv4", "IPv6")) {
      cluster.client().resource(Cluster.endpointSlice(WEB, family, plan.endpoints(pods))).update();
    }
  }

  /** Waits until every pod sees the LB IP in both families; returns the nanoTime it did. */
  private long awaitLb(List<String> pods, Duration timeout) throws Exception {
    return awaitAll(pods, plan.lbIPv4(), plan.lbIPv6(), timeout);
  }

  /** Waits until the pod egresses with its node's IPs again. */
  private void awaitSeen(String pod, String node, Duration timeout) throws Exception {
    LabPlan.Node n = plan.node(node);
    awaitAll(List.of(pod), n.ipv4(), n.ipv6(), timeout);
  }

  private long awaitAll(List<String> pods, String want4, String want6, Duration timeout)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Future<Long>> done = new ArrayList<>();
    for (String pod : pods) {
      done.add(probes.submit(() -> poll(pod, plan.externalIPv4(), want4, deadline)));
      done.add(probes.submit(() -> poll(pod, plan.externalIPv6(), want6, deadline)));
    }
    long last = 0;
    for (Future<Long> f : done) {
      last = Math.max(last, f.get());
    }
    return last;
  }

  private long poll(String pod, String host, String want, long deadline) {
    Probe last = null;
    while (System.nanoTime() < deadline) {
      last = Probe.run(Lab.SCRIPTS, plan.pod(pod).ns(), host, plan.echoPort(), PROBE_TIMEOUT);
      if (want.equals(last.seen())) {
        return System.nanoTime();
      }
    }
    throw new IllegalStateException(
        "pod " + pod + " -> " + host + " never saw " + want + "; last probe: " + last);
  }

  static void print(String what, List<Long> nanos) {
    List<Long> s = nanos.stream().sorted().toList();
    System.out.printf(
        "%s, n=%d: p50 %d ms, p99 %d ms, min %d ms, max %d ms%n",
        what,
        s.size(),
        s.get(rank(s.size(), 50)) / 1_000_000,
        s.get(rank(s.size(), 99)) / 1_000_000,
        s.get(0) / 1_000_000,
        s.get(s.size() - 1) / 1_000_000);
  }

  /** Nearest-rank percentile index. */
  static int rank(int size, int p) {
    return Math.max(0, (int) Math.ceil(p / 100.0 * size) - 1);
  }
}
