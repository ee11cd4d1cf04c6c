package de.metaleg.controller.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.common.net.IpAddress;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
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
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The incremental state must always equal the pure planner run on its inputs, and every node whose
 * plan changed must be named in the update (otherwise its plan would not be rewritten).
 */
class PlanningStateTest {
  static final PlannerConfig FILTERED = new PlannerConfig("metallb-system", true);

  static NodeInfo node(int n, boolean v6) {
    IpAddress v4ip = IpAddress.parse("192.0.2." + n).orElseThrow();
    IpAddress v6ip = IpAddress.parse("2001:db8::" + n).orElseThrow();
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

  /** A clock the test moves by hand. */
  static final class FakeClock implements InstantSource {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    @Override
    public Instant instant() {
      return now;
    }

    void advance(long millis) {
      now = now.plusMillis(millis);
    }
  }

  @ParameterizedTest(name = "filterEndpointsForNode={0}, grace={1} ms")
  @CsvSource({"true, 0", "false, 0", "true, 2000", "false, 2000"})
  void randomChangesMatchThePurePlannerAndNameEveryChangedNode(boolean filter, long grace) {
    FakeClock clock = new FakeClock();
    PlanningState state =
        new PlanningState(
            new PlannerConfig("metallb-system", filter, Duration.ofMillis(grace)), clock);
    Random r = new Random(7);
    int expired = 0;
    List<NodeInfo> initialNodes = new ArrayList<>();
    for (int n = 1; n <= 5; n++) {
      initialNodes.add(node(n, n != 3));
    }
    state.replaceAll(initialNodes, List.of(), Map.of(), List.of());
    for (int step = 0; step < 3000; step++) {
      Map<String, EgressPlanSpec> before = allPlans(state);
      ServiceKey key = new ServiceKey("ns" + r.nextInt(2), "svc" + r.nextInt(6));
      clock.advance(r.nextInt(400));
      boolean due = state.timeToNextExpiry().map(Duration::isZero).orElse(false);
      PlanningState.Update u =
          switch (r.nextInt(10)) {
            case 0 -> state.putService(randomService(r, key));
            case 1 -> state.removeService(key);
            case 2, 3, 4 -> state.putSlice(key, "s" + r.nextInt(2), randomEndpoints(r));
            case 5 -> state.removeSlice(key, "s" + r.nextInt(2));
            case 6 -> state.putAnnouncer(randomAnnouncer(r, key));
            case 7 -> state.removeAnnouncer("metallb-system/l2-" + key.name() + "-" + r.nextInt(2));
            case 8 -> state.expire(); // what the timer does
            default ->
                r.nextInt(3) == 0
                    ? state.removeNode("node-" + (1 + r.nextInt(6)))
                    : state.putNode(node(1 + r.nextInt(6), r.nextBoolean()));
          };
      Map<String, EgressPlanSpec> after = allPlans(state);
      Snapshot snap = state.snapshot();
      EgressPlanner.PlanResult pure = EgressPlanner.plan(snap);
      assertEquals(pure.plans(), after, "step " + step + " differs");
      assertEquals(pure.gateways(), snap.gateways(), "step " + step + ": memory differs");
      assertEquals(
          pure.nextExpiry().map(t -> Duration.between(clock.now, t)),
          state.timeToNextExpiry(),
          "step " + step + ": next expiry differs");
      if (due && !after.equals(before)) {
        expired++;
      }
      for (String n : after.keySet()) {
        if (!after.get(n).equals(before.get(n))) {
          assertTrue(u.nodes().contains(n), "step " + step + ": " + n + " changed unannounced");
        }
      }
    }
    if (grace > 0) {
      assertTrue(expired > 20, "the walk should often run into an expiring grace: " + expired);
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
        r.nextInt(3) == 0 ? "node-" + (1 + r.nextInt(7)) : null); // label-only when no status
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
                a, PlanningState.GATEWAY_CHANGED, "egress for ns/a moved from node-1 to node-3")),
        back.findings());
  }

  static AnnouncerInfo l2(String name, String statusNode, String labelNode) {
    return new AnnouncerInfo(
        "metallb-system", name, Instant.EPOCH, "a", "ns", null, statusNode, labelNode);
  }

  /** node-1 announces ns/a, whose pod runs on node-2; grace 2 s. */
  static PlanningState graceState(FakeClock clock) {
    PlanningState state =
        new PlanningState(new PlannerConfig("metallb-system", true, Duration.ofSeconds(2)), clock);
    ServiceKey a = new ServiceKey("ns", "a");
    state.replaceAll(
        List.of(node(1, true), node(2, true), node(3, true)),
        List.of(new ServiceInput(a, true, "LoadBalancer", List.of("198.51.100.10"))),
        Map.of(a, Map.of("a-1", List.of(new EndpointInput("10.0.2.5", "node-2", "p")))),
        List.of(l2("l2-a", "node-1", null)));
    return state;
  }

  @Test
  void aFailoverThroughADeleteCreateGapIsOneMoveAndNoWarning() {
    FakeClock clock = new FakeClock();
    PlanningState state = graceState(clock);
    Map<String, EgressPlanSpec> start = allPlans(state);
    clock.advance(100);
    PlanningState.Update gone = state.removeAnnouncer("metallb-system/l2-a");
    assertEquals(PlanningState.Update.NONE, gone, "inside the grace nothing changes");
    assertEquals(start, allPlans(state));
    assertEquals(Optional.of(Duration.ofSeconds(2)), state.timeToNextExpiry());
    assertEquals(1, state.servicesWithoutAnnouncer());
    clock.advance(150);
    PlanningState.Update created = state.putAnnouncer(l2("l2-b", null, "node-3"));
    assertEquals(Set.of("node-1", "node-2", "node-3"), created.nodes());
    assertEquals(
        List.of(
            Finding.normal(
                new ServiceKey("ns", "a"),
                PlanningState.GATEWAY_CHANGED,
                "egress for ns/a moved from node-1 to node-3")),
        created.findings());
    assertEquals(Optional.empty(), state.timeToNextExpiry(), "nothing bridged any more");
    assertEquals(0, state.servicesWithoutAnnouncer());
    assertEquals(1, state.gatewayMoves(new ServiceKey("ns", "a")));
    assertEquals(0.15, state.secondsWithoutAnnouncer(new ServiceKey("ns", "a")), 1e-9);
    assertEquals(
        PlanningState.Update.NONE,
        state.putAnnouncer(l2("l2-b", "node-3", "node-3")),
        "MetalLB writing status.node a moment later changes nothing");
  }

  @Test
  void anExpiredGraceRejectsWithOneWarning() {
    FakeClock clock = new FakeClock();
    PlanningState state = graceState(clock);
    state.removeAnnouncer("metallb-system/l2-a");
    clock.advance(1999);
    assertEquals(PlanningState.Update.NONE, state.expire(), "1 ms before the end");
    clock.advance(1);
    PlanningState.Update expired = state.expire();
    assertEquals(Set.of("node-1", "node-2"), expired.nodes());
    assertEquals(
        List.of(PlanningState.NO_GATEWAY),
        expired.findings().stream().map(Finding::reason).toList());
    assertTrue(
        expired.findings().get(0).message().contains("for 2s (GATEWAY_GRACE_PERIOD)"),
        expired.findings().get(0).message());
    assertEquals(
        "Reject",
        state.plan("node-2").orElseThrow().getEntries().get(0).getRole(),
        "node-2's pod is rejected");
    assertEquals(Optional.empty(), state.timeToNextExpiry());
    assertEquals(PlanningState.Update.NONE, state.expire(), "expired once");
  }

  @Test
  void aResyncInsideTheGraceKeepsTheRememberedGateway() {
    FakeClock clock = new FakeClock();
    PlanningState state = graceState(clock);
    Map<String, EgressPlanSpec> start = allPlans(state);
    state.removeAnnouncer("metallb-system/l2-a");
    clock.advance(500);
    ServiceKey a = new ServiceKey("ns", "a");
    PlanningState.Update resync =
        state.replaceAll(
            List.of(node(1, true), node(2, true), node(3, true)),
            List.of(new ServiceInput(a, true, "LoadBalancer", List.of("198.51.100.10"))),
            Map.of(a, Map.of("a-1", List.of(new EndpointInput("10.0.2.5", "node-2", "p")))),
            List.of());
    assertEquals(List.of(), resync.findings());
    assertEquals(start, allPlans(state));
    assertEquals(Optional.of(Duration.ofMillis(1500)), state.timeToNextExpiry());
  }
}
