package de.metaleg.controller.plan;

import static de.metaleg.controller.plan.Fixtures.cluster;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The gateway grace period, as a table of short stories. Each case is a sequence of moments (ms
 * after T0); at each the cluster is planned with the memory the previous moment left, and the table
 * says every node's entries, what is remembered about each Service ({@code last=} node, {@code
 * missing} while no announcer names one, {@code without=} total time without announcer so far,
 * {@code moves=}) and when the next planning must happen at the latest ({@code expiry=}).
 *
 * <p>Unless a case says otherwise: grace 2 s, nodes node-1..3 (Fixtures conventions), Service ns/a
 * with LB IP 198.51.100.10 and one pod 10.0.2.5 on node-2, announced by node-1.
 */
class GatewayMemoryTest {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final Duration GRACE = Duration.ofSeconds(2);

  record Moment(long at, Fixtures cluster, List<String> plans, List<String> memory) {}

  record Case(String desc, Duration grace, List<Moment> moments) {
    @Override
    public String toString() {
      return desc;
    }
  }

  static Moment at(long ms, Fixtures cluster, List<String> plans, String... memory) {
    return new Moment(ms, cluster, plans, List.of(memory));
  }

  static Case c(String desc, Moment... moments) {
    return new Case(desc, GRACE, List.of(moments));
  }

  static Case c(String desc, Duration grace, Moment... moments) {
    return new Case(desc, grace, List.of(moments));
  }

  /** The standard cluster without any announcer; {@code more} adds to it. */
  static Fixtures web(UnaryOperator<Fixtures> more) {
    return more.apply(
        cluster().threeNodes().svc("ns/a", "198.51.100.10").ep("ns/a", "10.0.2.5", "node-2"));
  }

  static Fixtures web() {
    return web(f -> f);
  }

  static Fixtures webOn(String node) {
    return web(f -> f.l2("ns/a", node));
  }

  static final List<String> VIA_NODE_1 =
      List.of(
          "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10 src=10.0.2.5",
          "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
              + " via=192.0.2.1 src=10.0.2.5");
  static final List<String> VIA_NODE_3 =
      List.of(
          "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-3 | v4 snat=198.51.100.10"
              + " via=192.0.2.3 src=10.0.2.5",
          "node-3 ns/a Gateway/AnnouncedByThisNode gw=node-3 | v4 snat=198.51.100.10 src=10.0.2.5");
  static final List<String> REJECTED =
      List.of("node-2 ns/a Reject/NoAnnouncer | v4 snat=198.51.100.10 src=10.0.2.5");

  static Stream<Case> cases() {
    return Stream.of(
        c(
            "the announcer disappears and the same node announces again within the grace: the"
                + " plans never change and nothing counts as a move",
            at(0, webOn("node-1"), VIA_NODE_1, "ns/a last=node-1 without=0ms moves=0"),
            at(
                100,
                web(),
                VIA_NODE_1,
                "ns/a last=node-1 missing without=0ms moves=0",
                "expiry=2100"),
            at(300, webOn("node-1"), VIA_NODE_1, "ns/a last=node-1 without=200ms moves=0")),
        c(
            "MetalLB's failover: the old ServiceL2Status is deleted, 150 ms later the new one"
                + " appears on node-3 without status.node (only the metallb.io/node label): the"
                + " plans go straight from node-1 to node-3, one move",
            at(0, webOn("node-1"), VIA_NODE_1, "ns/a last=node-1 without=0ms moves=0"),
            at(
                100,
                web(),
                VIA_NODE_1,
                "ns/a last=node-1 missing without=0ms moves=0",
                "expiry=2100"),
            at(
                250,
                web(f -> f.l2LabelOnly("ns/a", "l2-x7", T0, "node-3")),
                VIA_NODE_3,
                "ns/a last=node-3 without=150ms moves=1")),
        c(
            "no announcer returns: the last gateway holds until the grace runs out (not a"
                + " millisecond longer), then the pods' egress is rejected; a later announcer"
                + " on another node still counts as a move",
            at(0, webOn("node-1"), VIA_NODE_1, "ns/a last=node-1 without=0ms moves=0"),
            at(
                100,
                web(),
                VIA_NODE_1,
                "ns/a last=node-1 missing without=0ms moves=0",
                "expiry=2100"),
            at(
                2099,
                web(),
                VIA_NODE_1,
                "ns/a last=node-1 missing without=1999ms moves=0",
                "expiry=2100"),
            at(2100, web(), REJECTED, "ns/a last=node-1 missing without=2000ms moves=0"),
            at(5000, webOn("node-3"), VIA_NODE_3, "ns/a last=node-3 without=4900ms moves=1")),
        c(
            "grace 0: a missing announcer rejects at once, as before the grace existed",
            Duration.ZERO,
            at(0, webOn("node-1"), VIA_NODE_1, "ns/a last=node-1 without=0ms moves=0"),
            at(100, web(), REJECTED, "ns/a last=node-1 missing without=0ms moves=0")),
        c(
            "a Service that never had an announcer has nothing to bridge: it rejects at once",
            at(0, web(), REJECTED, "ns/a last=- missing without=0ms moves=0"),
            at(500, webOn("node-1"), VIA_NODE_1, "ns/a last=node-1 without=500ms moves=0")),
        c(
            "the remembered gateway Node is deleted during the grace: the grace only bridges a"
                + " missing announcer, so the normal rule applies at once (unknown gateway node)",
            at(0, webOn("node-1"), VIA_NODE_1, "ns/a last=node-1 without=0ms moves=0"),
            at(
                100,
                cluster()
                    .node("node-2", "192.0.2.2", "2001:db8::2")
                    .node("node-3", "192.0.2.3", "2001:db8::3")
                    .svc("ns/a", "198.51.100.10")
                    .ep("ns/a", "10.0.2.5", "node-2"),
                List.of(
                    "node-2 ns/a Reject/AnnouncerNodeUnknown gw=node-1 | v4 snat=198.51.100.10"
                        + " src=10.0.2.5"),
                "ns/a last=node-1 missing without=0ms moves=0",
                "expiry=2100")),
        c(
            "the remembered gateway loses its IPv4 InternalIP during the grace: rejected at once"
                + " with the normal reason",
            at(0, webOn("node-1"), VIA_NODE_1, "ns/a last=node-1 without=0ms moves=0"),
            at(
                100,
                cluster()
                    .node("node-1", "2001:db8::1")
                    .node("node-2", "192.0.2.2", "2001:db8::2")
                    .node("node-3", "192.0.2.3", "2001:db8::3")
                    .svc("ns/a", "198.51.100.10")
                    .ep("ns/a", "10.0.2.5", "node-2"),
                List.of(
                    "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                        + " src=10.0.2.5",
                    "node-2 ns/a Reject/GatewayHasNoInternalIPv4 gw=node-1 |"
                        + " v4 snat=198.51.100.10 src=10.0.2.5"),
                "ns/a last=node-1 missing without=0ms moves=0",
                "expiry=2100")),
        c(
            "two announcers (a failover in older MetalLB): the newest counts; when it goes the"
                + " older one still names a node, so there is nothing to bridge and the gateway"
                + " moves at once",
            at(
                0,
                web(
                    f ->
                        f.l2("ns/a", "l2-old", T0, "node-1")
                            .l2("ns/a", "l2-new", T0.plusSeconds(1), "node-3")),
                VIA_NODE_3,
                "ns/a last=node-3 without=0ms moves=0"),
            at(
                100,
                web(f -> f.l2("ns/a", "l2-old", T0, "node-1")),
                VIA_NODE_1,
                "ns/a last=node-1 without=0ms moves=1")),
        c(
            "two Services lose their announcers at different moments: each is bridged for its"
                + " own grace and the next expiry is the earlier one",
            at(
                0,
                webOn("node-1")
                    .svc("ns/b", "198.51.100.20")
                    .ep("ns/b", "10.0.2.6", "node-2")
                    .l2("ns/b", "node-3"),
                List.of(
                    VIA_NODE_1.get(0),
                    VIA_NODE_1.get(1),
                    "node-2 ns/b Forward/AnnouncedByOtherNode gw=node-3 | v4 snat=198.51.100.20"
                        + " via=192.0.2.3 src=10.0.2.6",
                    "node-3 ns/b Gateway/AnnouncedByThisNode gw=node-3 | v4 snat=198.51.100.20"
                        + " src=10.0.2.6"),
                "ns/a last=node-1 without=0ms moves=0",
                "ns/b last=node-3 without=0ms moves=0"),
            at(
                500,
                web()
                    .svc("ns/b", "198.51.100.20")
                    .ep("ns/b", "10.0.2.6", "node-2")
                    .l2("ns/b", "node-3"),
                List.of(
                    VIA_NODE_1.get(0),
                    VIA_NODE_1.get(1),
                    "node-2 ns/b Forward/AnnouncedByOtherNode gw=node-3 | v4 snat=198.51.100.20"
                        + " via=192.0.2.3 src=10.0.2.6",
                    "node-3 ns/b Gateway/AnnouncedByThisNode gw=node-3 | v4 snat=198.51.100.20"
                        + " src=10.0.2.6"),
                "ns/a last=node-1 missing without=0ms moves=0",
                "ns/b last=node-3 without=0ms moves=0",
                "expiry=2500"),
            at(
                1000,
                web().svc("ns/b", "198.51.100.20").ep("ns/b", "10.0.2.6", "node-2"),
                List.of(
                    VIA_NODE_1.get(0),
                    VIA_NODE_1.get(1),
                    "node-2 ns/b Forward/AnnouncedByOtherNode gw=node-3 | v4 snat=198.51.100.20"
                        + " via=192.0.2.3 src=10.0.2.6",
                    "node-3 ns/b Gateway/AnnouncedByThisNode gw=node-3 | v4 snat=198.51.100.20"
                        + " src=10.0.2.6"),
                "ns/a last=node-1 missing without=500ms moves=0",
                "ns/b last=node-3 missing without=0ms moves=0",
                "expiry=2500"),
            at(
                2500,
                web().svc("ns/b", "198.51.100.20").ep("ns/b", "10.0.2.6", "node-2"),
                List.of(
                    REJECTED.get(0),
                    "node-2 ns/b Forward/AnnouncedByOtherNode gw=node-3 | v4 snat=198.51.100.20"
                        + " via=192.0.2.3 src=10.0.2.6",
                    "node-3 ns/b Gateway/AnnouncedByThisNode gw=node-3 | v4 snat=198.51.100.20"
                        + " src=10.0.2.6"),
                "ns/a last=node-1 missing without=2000ms moves=0",
                "ns/b last=node-3 missing without=1500ms moves=0",
                "expiry=3000")),
        c(
            "a Service deleted (or unlabelled) during the grace is forgotten: created again, it"
                + " has no gateway to bridge and rejects until an announcer names one",
            at(0, webOn("node-1"), VIA_NODE_1, "ns/a last=node-1 without=0ms moves=0"),
            at(
                100,
                web(),
                VIA_NODE_1,
                "ns/a last=node-1 missing without=0ms moves=0",
                "expiry=2100"),
            at(200, cluster().threeNodes(), List.of()),
            at(300, web(), REJECTED, "ns/a last=- missing without=0ms moves=0")),
        c(
            "a Service without LB IP needs no gateway and is not remembered",
            at(0, cluster().threeNodes().svc("ns/a").l2("ns/a", "node-1"), List.of()),
            at(100, cluster().threeNodes().svc("ns/a"), List.of())));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void gracePeriod(Case tc) {
    GatewayMemory memory = GatewayMemory.EMPTY;
    for (Moment m : tc.moments()) {
      Instant now = T0.plusMillis(m.at());
      EgressPlanner.PlanResult r =
          EgressPlanner.plan(m.cluster().grace(tc.grace()).snapshot(memory, now));
      String where = tc.desc() + " (at " + m.at() + " ms)";
      assertEquals(m.plans(), Fixtures.render(r.plans()), where);
      assertEquals(m.memory(), render(r.gateways(), r.nextExpiry(), now), where);
      memory = r.gateways();
    }
  }

  static List<String> render(GatewayMemory memory, Optional<Instant> expiry, Instant now) {
    List<String> lines = new ArrayList<>();
    new TreeMap<>(memory.entries())
        .forEach(
            (k, e) ->
                lines.add(
                    k
                        + " last="
                        + e.lastNode().orElse("-")
                        + (e.missingSince().isPresent() ? " missing" : "")
                        + " without="
                        + e.missing(now).toMillis()
                        + "ms moves="
                        + e.moves()));
    expiry.ifPresent(t -> lines.add("expiry=" + Duration.between(T0, t).toMillis()));
    return lines;
  }

  /** The step over a whole cluster agrees with itself: planning twice at one moment is a no-op. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void planningTwiceAtTheSameMomentChangesNothing(Case tc) {
    GatewayMemory memory = GatewayMemory.EMPTY;
    for (Moment m : tc.moments()) {
      Instant now = T0.plusMillis(m.at());
      Fixtures f = m.cluster().grace(tc.grace());
      EgressPlanner.PlanResult once = EgressPlanner.plan(f.snapshot(memory, now));
      EgressPlanner.PlanResult twice = EgressPlanner.plan(f.snapshot(once.gateways(), now));
      assertEquals(once.plans(), twice.plans(), tc.desc());
      assertEquals(once.gateways(), twice.gateways(), tc.desc());
      assertEquals(Map.copyOf(once.services()), Map.copyOf(twice.services()), tc.desc());
      memory = once.gateways();
    }
  }
}
