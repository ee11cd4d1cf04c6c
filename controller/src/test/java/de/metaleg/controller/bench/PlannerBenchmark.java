package de.metaleg.controller.bench;

import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.common.net.IpAddress;
import de.metaleg.controller.plan.AnnouncerInfo;
import de.metaleg.controller.plan.EgressPlanner;
import de.metaleg.controller.plan.EndpointInput;
import de.metaleg.controller.plan.NodeInfo;
import de.metaleg.controller.plan.PlannerConfig;
import de.metaleg.controller.plan.PlanningState;
import de.metaleg.controller.plan.ServiceInput;
import de.metaleg.controller.plan.ServiceKey;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;

/**
 * Planner benchmark (not a test): 10,000 labelled dual-stack Services x 10 endpoints over 1,000
 * nodes. Prints full-plan time (pure planner and incremental state), the time to recompute the
 * affected plans after one endpoint change, and heap used. Run with the shaded jar on the class
 * path:
 *
 * <pre>
 * mvn -pl controller verify
 * java -Xmx512m -cp controller/target/metaleg-controller.jar:controller/target/test-classes \
 *     de.metaleg.controller.bench.PlannerBenchmark
 * </pre>
 */
public final class PlannerBenchmark {
  static final int NODES = 1_000;
  static final int SERVICES = 10_000;
  static final int ENDPOINTS = 10;

  public static void main(String[] args) {
    Random r = new Random(1);
    PlannerConfig config = new PlannerConfig("metallb-system", true);
    List<NodeInfo> nodes = new ArrayList<>();
    for (int n = 0; n < NODES; n++) {
      IpAddress v4 = IpAddress.parse("192.0." + (n / 250) + "." + (n % 250 + 1)).orElseThrow();
      IpAddress v6 = IpAddress.parse("2001:db8::" + Integer.toHexString(n + 1)).orElseThrow();
      nodes.add(new NodeInfo(node(n), Optional.of(v4), Optional.of(v6), Set.of(v4, v6)));
    }
    List<ServiceInput> services = new ArrayList<>();
    Map<ServiceKey, Map<String, List<EndpointInput>>> slices = new HashMap<>();
    Map<ServiceKey, List<EndpointInput>> endpoints = new HashMap<>();
    List<AnnouncerInfo> announcers = new ArrayList<>();
    int pod = 0;
    for (int s = 0; s < SERVICES; s++) {
      ServiceKey key = new ServiceKey("ns-" + (s % 100), "svc-" + s);
      services.add(
          new ServiceInput(
              key,
              true,
              "LoadBalancer",
              List.of(
                  "198.18." + (s / 250) + "." + (s % 250 + 1),
                  "2001:db8:100::" + Integer.toHexString(s + 1))));
      List<EndpointInput> eps = new ArrayList<>();
      for (int e = 0; e < ENDPOINTS; e++, pod++) {
        eps.add(
            new EndpointInput(
                "10." + (pod >> 16 & 0xff) + "." + (pod >> 8 & 0xff) + "." + (pod & 0xff),
                node(r.nextInt(NODES)),
                "pod-" + pod));
      }
      slices.put(key, Map.of(key.name() + "-1", eps));
      endpoints.put(key, eps);
      announcers.add(
          new AnnouncerInfo(
              "metallb-system",
              "l2-" + s,
              Instant.EPOCH,
              key.name(),
              key.namespace(),
              null,
              node(r.nextInt(NODES)),
              null));
    }
    var snapshot =
        new de.metaleg.controller.plan.Snapshot(
            config, toMap(nodes), services, endpoints, announcers);

    System.out.printf(
        "machine: %d cores, %s %s, max heap %d MiB%n",
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.vm.name"),
        System.getProperty("java.version"),
        Runtime.getRuntime().maxMemory() >> 20);
    System.out.printf(
        "input: %d Services x %d endpoints over %d nodes%n", SERVICES, ENDPOINTS, NODES);

    long[] pure = new long[8];
    int entries = 0;
    for (int i = 0; i < pure.length; i++) {
      long t0 = System.nanoTime();
      Map<String, EgressPlanSpec> plans = EgressPlanner.plan(snapshot).plans();
      pure[i] = System.nanoTime() - t0;
      entries = plans.values().stream().mapToInt(p -> p.getEntries().size()).sum();
    }
    report("full plan, pure EgressPlanner.plan (all 1000 plans)", pure, 3);
    System.out.printf("  -> %d entries over all plans%n", entries);

    PlanningState state = new PlanningState(config);
    long[] full = new long[8];
    for (int i = 0; i < full.length; i++) {
      long t0 = System.nanoTime();
      state.replaceAll(nodes, services, slices, announcers);
      for (NodeInfo n : nodes) {
        state.plan(n.name()).orElseThrow();
      }
      full[i] = System.nanoTime() - t0;
    }
    report("full plan, PlanningState.replaceAll + plan(every node)", full, 3);

    int changes = 2_000;
    long[] one = new long[changes];
    int touched = 0;
    for (int i = 0; i < changes; i++) {
      ServiceKey key = services.get(r.nextInt(SERVICES)).key();
      List<EndpointInput> eps = new ArrayList<>(slices.get(key).get(key.name() + "-1"));
      EndpointInput old = eps.get(0);
      eps.set(0, new EndpointInput(old.address(), node(r.nextInt(NODES)), old.podName()));
      slices.put(key, Map.of(key.name() + "-1", eps));
      long t0 = System.nanoTime();
      PlanningState.Update u = state.putSlice(key, key.name() + "-1", eps);
      for (String n : u.nodes()) {
        state.plan(n).orElseThrow();
      }
      one[i] = System.nanoTime() - t0;
      touched += u.nodes().size();
    }
    report("one endpoint moves to another node: update + recompute affected plans", one, 500);
    System.out.printf(
        "  -> %.1f affected plans per change on average%n", touched / (double) changes);

    System.gc();
    System.gc();
    long used = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
    System.out.printf(
        "heap used after GC, snapshot + planning state retained: %d MiB%n", used >> 20);
    // keep both alive until the measurement
    if (snapshot.services().size() + state.nodeNames().size() == 0) {
      System.out.println();
    }
  }

  static String node(int n) {
    return "node-" + n;
  }

  static Map<String, NodeInfo> toMap(List<NodeInfo> nodes) {
    Map<String, NodeInfo> m = new HashMap<>();
    nodes.forEach(n -> m.put(n.name(), n));
    return m;
  }

  /** Median, p99 and max after dropping {@code warmup} runs. */
  static void report(String what, long[] nanos, int warmup) {
    long[] s = Arrays.copyOfRange(nanos, warmup, nanos.length);
    Arrays.sort(s);
    System.out.printf(
        "%s: median %.2f ms, p99 %.2f ms, max %.2f ms (%d runs after %d warm-up)%n",
        what,
        s[s.length / 2] / 1e6,
        s[Math.min(s.length - 1, (int) (s.length * 0.99))] / 1e6,
        s[s.length - 1] / 1e6,
        s.length,
        warmup);
  }
}
