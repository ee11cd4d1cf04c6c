package de.metaleg.lab;

import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.lab.Cluster.Endpoint;
import de.metaleg.lab.Cluster.ServiceRef;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToLongFunction;

/**
 * Failovers under long-lived load in the lab (a plain main, not a test; needs root, the lab's tools
 * and the controller and agent jars, like {@link TransitionE2EIT}). Starts the lab with Service
 * default/web (endpoint pods 1a, 2a, 3a) announced by node-2, opens the long-lived flows of {@link
 * Flows} from every endpoint pod (per family one TCP connection and one UDP socket answering every
 * 100 ms, a fresh TCP connection every 50 ms), then moves MetalLB's announcement N times round the
 * nodes (MetalLB's order, {@link MetalLbSimulator#failover}), with new flows for every failover. A
 * failover's window runs from the MetalLB change until every plan is Ready plus {@link #HOLD_MS}.
 * Per failover it prints:
 *
 * <ul>
 *   <li><b>broken</b>: TCP connections broken (RST/EOF/error/no answer for 20 s, plus failed
 *       reconnects) and UDP errors (ICMP errors on the socket), over the 6 TCP and 6 UDP flows;
 *   <li><b>stall</b>: the longest time a live flow went without an answer within the window (gaps
 *       that ended with an answer, counted from the window's start);
 *   <li><b>stuck</b>: flows (of 12) without an answer in the window's last second;
 *   <li><b>refused</b>: fresh connects refused, timed out (1 s) or failed otherwise;
 *   <li><b>leaked</b>: packets at the external host with a pod source (any port) or a node source
 *       on the flows' port (router counters, lab-net.sh);
 *   <li><b>wrong</b>: answers (flows and fresh connects) whose source was not the LB IP.
 * </ul>
 *
 * Then p50/p99 (nearest rank) of each. Run from the lab module directory:
 *
 * <pre>
 * mvn -B -q -pl lab -am package -DskipTests     # the lab, controller and agent jars
 * cd lab && flock /tmp/metaleg-kernel.lock java -cp target/test-classes:target/metaleg-lab.jar \
 *     de.metaleg.lab.LabFailoverBenchmark [failovers, default 30] [iptables|nftables]
 * </pre>
 */
public final class LabFailoverBenchmark {
  static final ServiceRef WEB = new ServiceRef("default", "web");
  static final List<String> ENDPOINT_PODS = List.of("1a", "2a", "3a");
  static final long HOLD_MS = 2_000;

  record Sample(
      int n,
      String to,
      long convergeMs,
      long broken,
      long stallMs,
      long stuck,
      long refused,
      long leaked,
      long wrong) {}

  public static void main(String[] args) throws Exception {
    int failovers = args.length > 0 ? Integer.parseInt(args[0]) : 30;
    String backend = args.length > 1 ? args[1] : "iptables";
    Lab.exitUnlessRunnable();
    try (Lab lab = Lab.start(Map.of("FIREWALL_BACKEND", backend))) {
      run(lab, failovers, backend);
    }
    System.exit(0);
  }

  static void run(Lab lab, int failovers, String backend) throws Exception {
    LabPlan plan = lab.plan;
    Cluster cluster = lab.clusterWithNodes();
    MetalLbSimulator metallb = new MetalLbSimulator(cluster, plan);
    List<String> nodes = plan.nodes().stream().map(LabPlan.Node::name).toList();
    List<Endpoint> endpoints = plan.endpoints(ENDPOINT_PODS);
    cluster.createService(WEB, true, plan.lbIPv4(), plan.lbIPv6(), endpoints);
    String gateway = "node-2";
    metallb.announce(WEB, gateway);
    awaitReady(cluster, nodes, gateway);
    for (String pod : ENDPOINT_PODS) {
      Await.until(
          "pod " + pod + " egresses with the LB IP",
          Duration.ofSeconds(90),
          () -> {
            Probe p =
                Probe.run(Lab.SCRIPTS, plan.pod(pod).ns(), plan.externalIPv4(), plan.echoPort(), 1);
            return plan.lbIPv4().equals(p.seen()) ? Optional.empty() : Optional.of(p.toString());
          });
    }
    List<Sample> samples = new ArrayList<>();
    System.out.printf(
        "failovers under long-lived load, FIREWALL_BACKEND=%s, %d failovers, hold %d ms%n",
        backend, failovers, HOLD_MS);
    System.out.printf(
        "%3s %-7s %8s %7s %8s %6s %8s %7s %6s%n",
        "#", "to", "ready ms", "broken", "stall ms", "stuck", "refused", "leaked", "wrong");
    for (int i = 1; i <= failovers; i++) {
      gateway = nodes.get((nodes.indexOf(gateway) + 1) % nodes.size());
      // Fresh flows for every failover: a flow left broken or leaking by one failover must not
      // be counted again in the next one.
      try (Flows flows = Flows.start(plan, "bench-" + i, ENDPOINT_PODS, true)) {
        String warm = "";
        try {
          flows.awaitWarm(3, Duration.ofSeconds(15));
        } catch (AssertionError e) {
          String m = String.valueOf(e.getMessage());
          warm =
              " (not warm before the failover: " + m.substring(0, Math.min(160, m.length())) + ")";
        }
        Map<String, Long> before = RouterCounters.read();
        double t0 = Flows.nowMs();
        metallb.failover(WEB, gateway);
        awaitReady(cluster, nodes, gateway);
        long converge = (long) (Flows.nowMs() - t0);
        Thread.sleep(HOLD_MS);
        double t1 = Flows.nowMs();
        Map<String, Long> leaks = RouterCounters.diff(RouterCounters.read(), before);
        Flows.Report r = flows.report(t0, t1);
        long broken = r.flows().stream().mapToLong(f -> f.broken().size()).sum();
        long stall =
            (long)
                r.flows().stream().mapToDouble(Flows.FlowStats::maxClosedStallMs).max().orElse(0);
        long stuck = r.flows().stream().filter(f -> f.lastAnswer() < t1 - 1_000).count();
        long refused = r.fresh().stream().mapToLong(Flows.FreshStats::failed).sum();
        long wrong =
            r.flows().stream().mapToLong(Flows.FlowStats::wrongSources).sum()
                + r.fresh().stream().mapToLong(Flows.FreshStats::wrongSources).sum();
        long leaked = RouterCounters.leaked(leaks);
        Sample s = new Sample(i, gateway, converge, broken, stall, stuck, refused, leaked, wrong);
        samples.add(s);
        System.out.printf(
            "%3d %-7s %8d %7d %8d %6d %8d %7d %6d%s%n",
            s.n(),
            s.to(),
            s.convergeMs(),
            s.broken(),
            s.stallMs(),
            s.stuck(),
            s.refused(),
            s.leaked(),
            s.wrong(),
            warm);
      }
    }
    System.out.printf(
        "summary over %d failovers (nearest-rank p50 / p99 / max):%n", samples.size());
    summary("MetalLB change -> every plan Ready (ms)", samples, Sample::convergeMs);
    summary("connections broken + UDP errors per failover", samples, Sample::broken);
    summary("longest stall of a live flow (ms)", samples, Sample::stallMs);
    summary("flows stuck (no answer in the window's last second)", samples, Sample::stuck);
    summary("fresh connects refused/timed out", samples, Sample::refused);
    summary(
        "leaked packets (pod source, or node source on the flow port)", samples, Sample::leaked);
    summary("answers without the LB IP", samples, Sample::wrong);
  }

  static void awaitReady(Cluster cluster, List<String> nodes, String gateway) {
    Await.until(
        "every plan Ready with gateway " + gateway,
        Duration.ofSeconds(60),
        () -> {
          List<EgressPlan> plans = cluster.plans();
          for (EgressPlan p : plans) {
            boolean stale =
                p.getSpec().getEntries().stream()
                    .anyMatch(
                        e ->
                            WEB.toString().equals(e.getService())
                                && !gateway.equals(e.getGatewayNode()));
            if (stale) {
              return Optional.of(p.getMetadata().getName() + " still names another gateway");
            }
          }
          String wrong = PlanTable.notReady(plans, nodes);
          return wrong.isEmpty() ? Optional.empty() : Optional.of(wrong);
        });
  }

  static void summary(String what, List<Sample> samples, ToLongFunction<Sample> f) {
    List<Long> s = samples.stream().map(f::applyAsLong).sorted().toList();
    System.out.printf(
        "  %-62s p50 %6d  p99 %6d  max %6d  total %7d%n",
        what,
        s.get(LabLatencyBenchmark.rank(s.size(), 50)),
        s.get(LabLatencyBenchmark.rank(s.size(), 99)),
        s.get(s.size() - 1),
        s.stream().mapToLong(Long::longValue).sum());
  }

  private LabFailoverBenchmark() {}
}
