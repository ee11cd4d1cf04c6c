package de.metaleg.controller.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.v1alpha1.EgressPlanSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The incremental state must always equal the pure planner run on its inputs, and every node whose
 * plan changed must be named in the update (otherwise its plan would not be rewritten).
 */
class PlanningStateTest {
  static final PlannerConfig FILTERED = new PlannerConfig("metallb-system", true);

  static NodeInfo node(int n, boolean v6) {
    IpAddr v4ip = IpAddr.parse("192.0.2." + n).orElseThrow();
    IpAddr v6ip = IpAddr.parse("2001:db8::" + n).orElseThrow();
    return new NodeInfo(
        "node-" + n,
        Optional.of(v4ip),
        v6 ? Optional.of(v6ip) : Optional.empty(),
        v6 ? Set.of(v4ip, v6ip) : Set.of(v4ip));
  }

  static Map<String, EgressPlanSpec> allPlans(PlanningState state) {
    Map<String, EgressPlanSpec> out = new TreeMap<>();
    state.nodeNames().forEach(n -> out.put(n, state.plan(n).orElseThrow()));
    return out;
  }

  @ParameterizedTest(name = "filterEndpointsForNode={0}")
  @ValueSource(booleans = {true, false})
  void randomChangesMatchThePurePlannerAndNameEveryChangedNode(boolean filter) {
    PlanningState state = new PlanningState(new PlannerConfig("metallb-system", filter));
    Random r = new Random(7);
    List<NodeInfo> initialNodes = new ArrayList<>();
    for (int n = 1; n <= 5; n++) {
      initialNodes.add(node(n, n != 3));
    }
    state.replaceAll(initialNodes, List.of(), Map.of(), List.of());
    for (int step = 0; step < 3000; step++) {
      Map<String, EgressPlanSpec> before = allPlans(state);
      ServiceKey key = new ServiceKey("ns" + r.nextInt(2), "svc" + r.nextInt(6));
      PlanningState.Update u =
          switch (r.nextInt(9)) {
            case 0 -> state.putService(randomService(r, key));
            case 1 -> state.removeService(key);
            case 2, 3, 4 -> state.putSlice(key, "s" + r.nextInt(2), randomEndpoints(r));
            case 5 -> state.removeSlice(key, "s" + r.nextInt(2));
            case 6 -> state.putAnnouncer(randomAnnouncer(r, key));
            case 7 -> state.removeAnnouncer("metallb-system/l2-" + key.name() + "-" + r.nextInt(2));
            default ->
                r.nextInt(3) == 0
                    ? state.removeNode("node-" + (1 + r.nextInt(6)))
                    : state.putNode(node(1 + r.nextInt(6), r.nextBoolean()));
          };
      Map<String, EgressPlanSpec> after = allPlans(state);
      assertEquals(
          EgressPlanner.plan(state.snapshot()).plans(), after, "step " + step + " differs");
      for (String n : after.keySet()) {
        if (!after.get(n).equals(before.get(n))) {
          assertTrue(u.nodes().contains(n), "step " + step + ": " + n + " changed unannounced");
        }
      }
    }
  }

  static ServiceInput randomService(Random r, ServiceKey key) {
    List<String> ips = new ArrayList<>();
    int suffix = 10 + r.nextInt(3);
    if (r.nextInt(4) != 0) {
      ips.add("198.51.100." + suffix);
    }
    if (r.nextBoolean()) {
      ips.add("2001:db8:100::" + suffix);
    }
    if (r.nextInt(20) == 0) {
      ips.add("bogus");
    }
    return new ServiceInput(key, r.nextInt(10) != 0, "LoadBalancer", ips);
  }

  static List<EndpointInput> randomEndpoints(Random r) {
    List<EndpointInput> eps = new ArrayList<>();
    for (int i = r.nextInt(4); i > 0; i--) {
      int n = 1 + r.nextInt(6);
      String ip =
          r.nextInt(15) == 0
              ? "192.0.2." + n // a hostNetwork pod
              : r.nextBoolean()
                  ? "10.0." + n + "." + r.nextInt(4)
                  : "fd00:" + n + "::" + r.nextInt(4);
      eps.add(new EndpointInput(ip, r.nextInt(10) == 0 ? null : "node-" + n, "pod-" + ip));
    }
    return eps;
  }

  static AnnouncerInfo randomAnnouncer(Random r, ServiceKey key) {
    return new AnnouncerInfo(
        "metallb-system",
        "l2-" + key.name() + "-" + r.nextInt(2),
        Instant.ofEpochSecond(r.nextInt(3)),
        key.name(),
        key.namespace(),
        null,
        r.nextInt(5) == 0 ? null : "node-" + (1 + r.nextInt(7)),
        null);
  }

  @Test
  void endpointChangeNamesOnlyItsNodesAndTheGateway() {
    PlanningState state = new PlanningState(FILTERED);
    ServiceKey a = new ServiceKey("ns", "a");
    ServiceKey b = new ServiceKey("ns", "b");
    List<NodeInfo> nodes = new ArrayList<>();
    for (int n = 1; n <= 6; n++) {
      nodes.add(node(n, true));
    }
    Map<ServiceKey, Map<String, List<EndpointInput>>> slices = new HashMap<>();
    slices.put(a, Map.of("a-1", List.of(new EndpointInput("10.0.2.5", "node-2", "p"))));
    slices.put(b, Map.of("b-1", List.of(new EndpointInput("10.0.5.5", "node-5", "q"))));
    state.replaceAll(
        nodes,
        List.of(
            new ServiceInput(a, true, "LoadBalancer", List.of("198.51.100.10")),
            new ServiceInput(b, true, "LoadBalancer", List.of("198.51.100.20"))),
        slices,
        List.of(
            new AnnouncerInfo(
                "metallb-system", "l2-a", Instant.EPOCH, "a", "ns", null, "node-1", null),
            new AnnouncerInfo(
                "metallb-system", "l2-b", Instant.EPOCH, "b", "ns", null, "node-6", null)));
    PlanningState.Update u =
        state.putSlice(a, "a-1", List.of(new EndpointInput("10.0.3.5", "node-3", "p")));
    assertEquals(Set.of("node-1", "node-2", "node-3"), u.nodes());
    assertEquals(List.of(), u.findings());
    assertEquals(
        PlanningState.Update.NONE,
        state.putSlice(a, "a-1", List.of(new EndpointInput("10.0.3.5", "node-3", "p"))));
  }

  @Test
  void gatewayChangeIsReportedAfterStartupOnly() {
    PlanningState state = new PlanningState(FILTERED);
    ServiceKey a = new ServiceKey("ns", "a");
    PlanningState.Update start =
        state.replaceAll(
            List.of(node(1, true), node(2, true), node(3, true)),
            List.of(new ServiceInput(a, true, "LoadBalancer", List.of("198.51.100.10"))),
            Map.of(a, Map.of("a-1", List.of(new EndpointInput("10.0.2.5", "node-2", "p")))),
            List.of(
                new AnnouncerInfo(
                    "metallb-system", "l2-a", Instant.EPOCH, "a", "ns", null, "node-1", null)));
    assertEquals(List.of(), start.findings(), "a restart does not retell the history");
    PlanningState.Update gone = state.removeAnnouncer("metallb-system/l2-a");
    assertEquals(Set.of("node-1", "node-2"), gone.nodes());
    assertEquals(
        List.of(PlanningState.NO_GATEWAY), gone.findings().stream().map(Finding::reason).toList());
    PlanningState.Update back =
        state.putAnnouncer(
            new AnnouncerInfo(
                "metallb-system", "l2-b", Instant.EPOCH, "a", "ns", null, "node-3", null));
    assertEquals(Set.of("node-2", "node-3"), back.nodes());
    assertEquals(
        List.of(
            Finding.normal(
                a,
                PlanningState.GATEWAY_CHANGED,
                "egress for 198.51.100.10 now leaves via node-3")),
        back.findings());
  }
}
