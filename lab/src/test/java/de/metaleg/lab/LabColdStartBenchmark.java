package de.metaleg.lab;

import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.lab.Cluster.Endpoint;
import de.metaleg.lab.Cluster.ServiceRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Lab cold start (issue 12: target ≤ 6 s on two cores), a plain main like {@link
 * LabFailoverBenchmark}: the lab's namespaces and API server are up and already hold the cluster
 * (three Nodes, Service default/web labelled with endpoints 1a, 2a, 3a, announced by node-2); then
 * the controller and the three agents are spawned at once (t = 0) and it prints, per run, when
 * every plan was written (all three name the gateway), when every plan was Ready for its
 * generation, and when every endpoint pod egressed with the LB IP in both families (one probe.py
 * connection per pod and family at a time, 0.5 s timeout: the time includes up to one probe's run,
 * ~0.1 s). The lab is torn down and started again for every run. Run from the lab module directory:
 *
 * <pre>
 * mvn -B -q -pl lab -am package -DskipTests
 * cd lab && flock /tmp/metaleg-kernel.lock java -cp target/test-classes:target/metaleg-lab.jar \
 *     de.metaleg.lab.LabColdStartBenchmark [runs, default 5] [iptables|nftables] [controller-first]
 * </pre>
 *
 * With {@code controller-first} the agents are spawned only once every plan is written, which shows
 * what the controller's start costs without three agent JVMs starting beside it.
 */
public final class LabColdStartBenchmark {
  static final ServiceRef WEB = new ServiceRef("default", "web");
  static final List<String> ENDPOINT_PODS = List.of("1a", "2a", "3a");
  static final long GIVE_UP_MS = 90_000;

  record Run(long plansMs, long readyMs, long egressMs, Map<String, Long> perPod) {}

  public static void main(String[] args) throws Exception {
    int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    String backend = args.length > 1 ? args[1] : "iptables";
    boolean controllerFirst = args.length > 2 && args[2].equals("controller-first");
    Lab.exitUnlessRunnable();
    System.out.printf(
        "lab cold start, FIREWALL_BACKEND=%s, %d runs%s; ms from spawning the controller%n",
        backend, runs, controllerFirst ? ", agents spawned once the plans are written" : "");
    System.out.printf("%3s %10s %10s %12s  %s%n", "#", "plans", "ready", "egress", "per pod");
    List<Run> all = new ArrayList<>();
    for (int i = 1; i <= runs; i++) {
      Run r = once(backend, controllerFirst);
      all.add(r);
      System.out.printf(
          "%3d %10d %10d %12d  %s  (load %s)%n",
          i, r.plansMs(), r.readyMs(), r.egressMs(), r.perPod(), load());
    }
    System.out.printf(
        "median: plans %d, ready %d, egress %d ms; max egress %d ms%n",
        median(all.stream().map(Run::plansMs).toList()),
        median(all.stream().map(Run::readyMs).toList()),
        median(all.stream().map(Run::egressMs).toList()),
        all.stream().mapToLong(Run::egressMs).max().orElse(-1));
    System.exit(0);
  }

  static Run once(String backend, boolean controllerFirst) throws Exception {
    try (Lab lab = Lab.startApiServerOnly(Map.of("FIREWALL_BACKEND", backend))) {
      LabPlan plan = lab.plan;
      Cluster cluster = lab.clusterWithNodes();
      List<Endpoint> endpoints = plan.endpoints(ENDPOINT_PODS);
      cluster.createService(WEB, true, plan.lbIPv4(), plan.lbIPv6(), endpoints);
      new MetalLbSimulator(cluster, plan).announce(WEB, "node-2");
      List<String> nodes = plan.nodes().stream().map(LabPlan.Node::name).toList();

      long t0 = System.nanoTime();
      if (controllerFirst) {
        lab.startController();
        while (!written(cluster.plans(), nodes) && ms(t0) < GIVE_UP_MS) {
          Thread.sleep(20);
        }
        lab.startAgents();
      } else {
        lab.startMetalEg();
      }
      Map<String, Long> egress = new ConcurrentHashMap<>();
      List<Thread> probers = new ArrayList<>();
      for (String pod : ENDPOINT_PODS) {
        Thread t = new Thread(() -> probeUntilLb(plan, pod, t0, egress), "probe-" + pod);
        t.setDaemon(true);
        t.start();
        probers.add(t);
      }
      long plansMs = -1;
      long readyMs = -1;
      while (ms(t0) < GIVE_UP_MS && (readyMs < 0 || egress.size() < ENDPOINT_PODS.size())) {
        lab.assertProcessesAlive();
        List<EgressPlan> plans = cluster.plans();
        if (plansMs < 0 && written(plans, nodes)) {
          plansMs = ms(t0);
        }
        if (plansMs >= 0 && readyMs < 0 && PlanTable.notReady(plans, nodes).isEmpty()) {
          readyMs = ms(t0);
        }
        Thread.sleep(20);
      }
      for (Thread t : probers) {
        t.join(2_000);
      }
      long egressMs =
          egress.size() < ENDPOINT_PODS.size()
              ? -1
              : egress.values().stream().mapToLong(Long::longValue).max().orElse(-1);
      return new Run(plansMs, readyMs, egressMs, new java.util.TreeMap<>(egress));
    }
  }

  /** Every node has a plan whose entry for web names node-2 as its gateway. */
  static boolean written(List<EgressPlan> plans, List<String> nodes) {
    long ok =
        plans.stream()
            .filter(p -> nodes.contains(p.getMetadata().getName()))
            .filter(
                p ->
                    p.getSpec().getEntries().stream()
                        .anyMatch(
                            e ->
                                WEB.toString().equals(e.getService())
                                    && "node-2".equals(e.getGatewayNode())))
            .count();
    return ok == nodes.size();
  }

  /** Probes both families from {@code pod} until each answered with the LB IP. */
  static void probeUntilLb(LabPlan plan, String pod, long t0, Map<String, Long> egress) {
    boolean v4 = false;
    boolean v6 = false;
    while (!(v4 && v6) && ms(t0) < GIVE_UP_MS) {
      if (!v4) {
        v4 = plan.lbIPv4().equals(probe(plan, pod, plan.externalIPv4()).seen());
      } else {
        v6 = plan.lbIPv6().equals(probe(plan, pod, plan.externalIPv6()).seen());
      }
    }
    if (v4 && v6) {
      egress.put(pod, ms(t0));
    }
  }

  static Probe probe(LabPlan plan, String pod, String host) {
    return Probe.run(Lab.SCRIPTS, plan.pod(pod).ns(), host, plan.echoPort(), 0.5);
  }

  static long ms(long t0) {
    return (System.nanoTime() - t0) / 1_000_000;
  }

  static long median(List<Long> values) {
    List<Long> s = values.stream().sorted().toList();
    return s.isEmpty() ? -1 : s.get(s.size() / 2);
  }

  static String load() {
    try {
      return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).split(" ")[0];
    } catch (java.io.IOException e) {
      return "?";
    }
  }
}
