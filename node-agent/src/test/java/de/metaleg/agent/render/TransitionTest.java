package de.metaleg.agent.render;

import static org.junit.jupiter.api.Assertions.assertEquals;

import de.metaleg.agent.model.Cidr;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.Transition.Drain;
import de.metaleg.agent.render.Transition.Forwarded;
import de.metaleg.agent.render.Transition.Rejected;
import de.metaleg.agent.render.Transition.Snat;
import de.metaleg.agent.render.Transition.Treatment;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The transition protocol's pure decisions. Addresses: pods 10.244.1.5 (P) and 10.244.2.7 (Q), LB
 * IPs 198.51.100.10 (L) and 198.51.100.11 (M), external host 203.0.113.10, excluded 10.96.0.10.
 */
class TransitionTest {
  static final String P = "10.244.1.5";
  static final String Q = "10.244.2.7";
  static final String L = "198.51.100.10";
  static final String M = "198.51.100.11";
  static final String EXT = "203.0.113.10";
  static final List<Cidr> EXCLUDE = List.of(Cidr.parse("10.0.0.0/8").orElseThrow());
  static final Instant T0 = Instant.parse("2026-12-01T00:00:00Z");
  static final Duration DRAIN = Duration.ofSeconds(10);

  static Entry gateway(String lb, String... sources) {
    return new Entry(
        "shop/web",
        Family.V4,
        Role.Gateway,
        "AnnouncedByThisNode",
        Optional.of("node-1"),
        Optional.empty(),
        Optional.of(lb),
        List.of(sources));
  }

  static Entry forward(String... sources) {
    return new Entry(
        "shop/web",
        Family.V4,
        Role.Forward,
        "AnnouncedByOtherNode",
        Optional.of("node-2"),
        Optional.of("192.0.2.2"),
        Optional.of(L),
        List.of(sources));
  }

  static Entry reject(String... sources) {
    return new Entry(
        "shop/web",
        Family.V4,
        Role.Reject,
        "NoAnnouncer",
        Optional.empty(),
        Optional.empty(),
        Optional.of(L),
        List.of(sources));
  }

  static DesiredPlan plan(Entry... entries) {
    return new DesiredPlan(List.of(entries));
  }

  static Stream<Arguments> switches() {
    return Stream.of(
        Arguments.of(
            "a failover between two other nodes keeps the null binding: no switch on a forwarder",
            plan(forward(P)),
            plan(
                new Entry(
                    "shop/web",
                    Family.V4,
                    Role.Forward,
                    "AnnouncedByOtherNode",
                    Optional.of("node-3"),
                    Optional.of("192.0.2.3"),
                    Optional.of(L),
                    List.of(P))),
            Set.of()),
        Arguments.of(
            "this node becomes the gateway: its forwarded pod switches to SNAT",
            plan(forward(P)),
            plan(gateway(L, P, Q)),
            Set.of(P, Q)),
        Arguments.of(
            "the label is removed: every source leaves", plan(forward(P)), plan(), Set.of(P)),
        Arguments.of(
            "a pod joins the Service: the new source switches from nothing",
            plan(gateway(L, P)),
            plan(gateway(L, P, Q)),
            Set.of(Q)),
        Arguments.of(
            "the LB IP changes: SNAT to another address is another treatment",
            plan(gateway(L, P)),
            plan(gateway(M, P)),
            Set.of(P)),
        Arguments.of(
            "no announcer any more: forward to reject",
            plan(forward(P)),
            plan(reject(P)),
            Set.of(P)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("switches")
  void switchingSources(String desc, DesiredPlan before, DesiredPlan after, Set<String> want) {
    assertEquals(
        want,
        Transition.switching(Transition.treatments(before), Transition.treatments(after)),
        desc);
  }

  @Test
  void rejectWinsOverMarkWhichWinsOverSnat() {
    Entry otherGateway =
        new Entry(
            "shop/api",
            Family.V4,
            Role.Gateway,
            "",
            Optional.empty(),
            Optional.empty(),
            Optional.of(M),
            List.of(P, Q));
    Map<String, Treatment> t = Transition.treatments(plan(otherGateway, forward(P)));
    assertEquals(new Forwarded(), t.get(P), "a marked packet gets the null binding first");
    assertEquals(new Snat(M), t.get(Q));
    t = Transition.treatments(plan(otherGateway, reject(Q)));
    assertEquals(new Rejected(), t.get(Q));
  }

  @Test
  void sourcesMovedAwayFromTheGatewayDrainThenExpire() {
    // node-1 was the gateway for P (its own pod) and Q (a pod on node-2); now node-2 is.
    List<Drain> drains =
        Transition.drains(plan(gateway(L, P, Q)), plan(forward(P)), List.of(), T0, DRAIN);
    assertEquals(1, drains.size());
    assertEquals(Set.of(P, Q), drains.get(0).sources());
    assertEquals(T0.plus(DRAIN), drains.get(0).until());
    DesiredPlan effective = Transition.withDrains(plan(forward(P)), drains);
    Map<String, Treatment> t = Transition.treatments(effective);
    assertEquals(new Snat(L, true), t.get(Q), "Q's late packets still leave with the LB IP");
    assertEquals(new Forwarded(), t.get(P), "P is marked now: the drain does not apply to it");
    assertEquals(Optional.of(T0.plus(DRAIN)), Transition.nextExpiry(drains));

    List<Drain> later =
        Transition.drains(
            effective, plan(forward(P)), drains, T0.plus(Duration.ofSeconds(3)), DRAIN);
    assertEquals(T0.plus(DRAIN), later.get(0).until(), "a re-sync keeps the drain's end");
    assertEquals(
        List.of(),
        Transition.drains(effective, plan(forward(P)), drains, T0.plus(DRAIN), DRAIN),
        "expired at its end");
  }

  @Test
  void aSourceTheGatewayTakesBackLeavesTheDrain() {
    List<Drain> drains =
        Transition.drains(plan(gateway(L, P, Q)), plan(gateway(L, P)), List.of(), T0, DRAIN);
    assertEquals(Set.of(Q), drains.get(0).sources());
    assertEquals(
        List.of(),
        Transition.drains(
            plan(gateway(L, P)),
            plan(gateway(L, P, Q)),
            drains,
            T0.plus(Duration.ofSeconds(1)),
            DRAIN));
  }

  @Test
  void noDrainWithAZeroPeriod() {
    assertEquals(
        List.of(), Transition.drains(plan(gateway(L, P)), plan(), List.of(), T0, Duration.ZERO));
  }

  static ConntrackEntry ct(String line) {
    return ConntrackEntry.parse(Family.V4, line).orElseThrow();
  }

  // orig P -> EXT, replies to P: a null binding (forwarded)
  static final ConntrackEntry NULL_BOUND =
      ct(
          "tcp 6 431999 ESTABLISHED src=10.244.1.5 dst=203.0.113.10 sport=40000 dport=8080"
              + " src=203.0.113.10 dst=10.244.1.5 sport=8080 dport=40000 [ASSURED] mark=0 use=1");
  // orig P -> EXT, replies to L: SNATed to the LB IP
  static final ConntrackEntry SNAT_L =
      ct(
          "tcp 6 431999 ESTABLISHED src=10.244.1.5 dst=203.0.113.10 sport=40001 dport=8080"
              + " src=203.0.113.10 dst=198.51.100.10 sport=8080 dport=40001 [ASSURED] mark=0 use=1");
  // orig P -> EXT, replies to the node: the CNI's masquerade
  static final ConntrackEntry MASQ =
      ct(
          "udp 17 29 src=10.244.1.5 dst=203.0.113.10 sport=5000 dport=9000"
              + " src=203.0.113.10 dst=192.0.2.1 sport=9000 dport=5000 mark=0 use=1");
  // orig P -> a cluster service: excluded destination, DNATed by kube-proxy
  static final ConntrackEntry TO_CLUSTER =
      ct(
          "tcp 6 431999 ESTABLISHED src=10.244.1.5 dst=10.96.0.10 sport=40002 dport=53"
              + " src=10.244.2.9 dst=10.244.1.5 sport=53 dport=40002 [ASSURED] mark=0 use=1");
  // an external client's connection to the LB IP, DNATed to P: inbound, never touched
  static final ConntrackEntry INBOUND =
      ct(
          "tcp 6 431999 ESTABLISHED src=203.0.113.77 dst=198.51.100.10 sport=50000 dport=80"
              + " src=10.244.1.5 dst=203.0.113.77 sport=80 dport=50000 [ASSURED] mark=0 use=1");
  // a reply of a flow this node never saw, picked up as new: EXT -> L, no DNAT
  static final ConntrackEntry STRAY =
      ct(
          "tcp 6 300 ESTABLISHED src=203.0.113.10 dst=198.51.100.10 sport=8080 dport=40001"
              + " src=198.51.100.10 dst=203.0.113.10 sport=40001 dport=8080 mark=0 use=1");

  static final List<ConntrackEntry> TABLE =
      List.of(NULL_BOUND, SNAT_L, MASQ, TO_CLUSTER, INBOUND, STRAY);

  static Stream<Arguments> audits() {
    return Stream.of(
        Arguments.of(
            "forwarded: every binding but the null one is stale; cluster and inbound untouched",
            Map.of(P, new Forwarded()),
            Set.of(),
            List.of(SNAT_L, MASQ)),
        Arguments.of(
            "gateway: every binding but SNAT to L is stale, and stray replies to L go",
            Map.of(P, new Snat(L)),
            Set.of(),
            List.of(NULL_BOUND, MASQ, STRAY)),
        Arguments.of(
            "rejected: every flow toward the outside is stale",
            Map.of(P, new Rejected()),
            Set.of(),
            List.of(NULL_BOUND, SNAT_L, MASQ)),
        Arguments.of(
            "left the plan: only the null binding would leak its pod IP",
            Map.of(),
            Set.of(P),
            List.of(NULL_BOUND)),
        Arguments.of("unknown source: nothing is touched", Map.of(), Set.of(), List.of()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("audits")
  void staleEntries(
      String desc, Map<String, Treatment> now, Set<String> left, List<ConntrackEntry> want) {
    assertEquals(want, Transition.stale(TABLE, now, Set.of(), left, EXCLUDE), desc);
  }

  @Test
  void parsesConntrackLinesIntoDeleteLines() {
    assertEquals(
        "-D -f ipv4 -p tcp -s 10.244.1.5 -d 203.0.113.10 --sport 40000 --dport 8080",
        NULL_BOUND.deleteLine());
    ConntrackEntry icmp6 =
        ConntrackEntry.parse(
                Family.V6,
                "icmpv6 58 29 src=fd00::5 dst=2001:db8:ff::10 type=128 code=0 id=7"
                    + " src=2001:db8:ff::10 dst=2001:db8:100::10 type=129 code=0 id=7 mark=0 use=1")
            .orElseThrow();
    assertEquals(
        "-D -f ipv6 -p icmpv6 -s fd00::5 -d 2001:db8:ff::10 --icmpv6-type 128 --icmpv6-code 0"
            + " --icmpv6-id 7",
        icmp6.deleteLine());
    assertEquals(
        Optional.empty(),
        ConntrackEntry.parse(
            Family.V4, "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown."));
  }

  @Test
  void uplinksAreTheDefaultRoutesInterfaces() {
    assertEquals(
        List.of("bond0", "eth0", "eth1"),
        Transition.uplinks(
            "default via 192.0.2.1 dev eth0 proto dhcp metric 100 \n"
                + "default proto static metric 1024 pref medium\\\tnexthop via fe80::1 dev eth1"
                + " weight 1\\\tnexthop via fe80::2 dev bond0 weight 1 \n"));
    assertEquals(List.of(), Transition.uplinks(""));
  }

  @Test
  void aConnectionPoolIsOneDeleteLineUnlessSomeOfItsEntriesStay() {
    ConntrackEntry pool2 =
        ct(
            "tcp 6 431999 ESTABLISHED src=10.244.1.5 dst=203.0.113.10 sport=40009 dport=8080"
                + " src=203.0.113.10 dst=198.51.100.10 sport=8080 dport=40009 [ASSURED] mark=0 use=1");
    assertEquals(
        List.of("-D -f ipv4 -p tcp -s 10.244.1.5 -d 203.0.113.10"),
        Transition.deleteLines(List.of(SNAT_L, pool2, MASQ), List.of(SNAT_L, pool2)),
        "both entries of the flow key are stale: one line");
    assertEquals(
        List.of(SNAT_L.deleteLine(), pool2.deleteLine()),
        Transition.deleteLines(List.of(SNAT_L, pool2, NULL_BOUND), List.of(SNAT_L, pool2)),
        "the null-bound entry to the same server stays: one line per stale entry");
  }

  @Test
  void aDrainHasItsOwnSourceSetBesideTheServicesCurrentEntry() {
    // node-2 was the gateway for P (another node's pod) and Q (its own); now it forwards Q only
    List<Drain> drains =
        Transition.drains(plan(gateway(L, P, Q)), plan(forward(Q)), List.of(), T0, DRAIN);
    DesiredState state =
        DataplaneRenderer.render(
            Transition.withDrains(plan(forward(Q)), drains),
            new NodeFacts(
                new de.metaleg.agent.model.MarkSpace(0x00F00000L, 100000L),
                List.of(Cidr.parse("10.0.0.0/8").orElseThrow())),
            Map.of("node-2", 1),
            Set.of());
    Map<String, List<String>> members = new java.util.HashMap<>();
    for (IpSetSpec s : state.sets()) {
      assertEquals(null, members.put(s.name(), s.members()), "one spec per set name: " + s.name());
    }
    assertEquals(List.of(Q), members.get(state.marks().get(0).set()), "only Q is marked");
    assertEquals(
        List.of(P, Q), members.get(state.snats().get(0).set()), "both drain with the LB IP");
    assertEquals(new Forwarded(), Transition.treatments(state).get(Q));
    assertEquals(new Snat(L, true), Transition.treatments(state).get(P));
  }

  @Test
  void aFailbackDropsTheEntriesLeftBehindAndADrainKeepsThem() {
    // node-2 SNATed P, drained it while node-3 was the gateway, and is the gateway again
    Map<String, Treatment> gatewayAgain = Map.of(P, new Snat(L));
    assertEquals(
        List.of(NULL_BOUND, SNAT_L, MASQ, STRAY),
        Transition.stale(TABLE, gatewayAgain, Set.of(P), Set.of(), EXCLUDE),
        "P switched (drain to gateway): its SNAT entry has a stale TCP window, it goes too");
    assertEquals(
        List.of(NULL_BOUND, MASQ, STRAY),
        Transition.stale(TABLE, Map.of(P, new Snat(L, true)), Set.of(P), Set.of(), EXCLUDE),
        "gateway to drain: the entries bound to L stay for lagging nodes");
    assertEquals(
        Set.of(P),
        Transition.switching(Map.of(P, new Snat(L, true)), gatewayAgain),
        "drain to gateway is a switch");
    assertEquals(
        Set.of(),
        Transition.switching(gatewayAgain, Map.of(P, new Snat(L, true))),
        "gateway to drain keeps the binding: no switch");
  }
}
