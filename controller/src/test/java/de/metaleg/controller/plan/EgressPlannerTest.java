package de.metaleg.controller.plan;

import static de.metaleg.controller.plan.Fixtures.cluster;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.v1alpha1.EgressPlanSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Planner table. Each case has a prose description, a cluster and the expected entries of every
 * node (one line per entry, see {@link Fixtures#render}) plus the expected findings as {@code
 * service Severity/Reason}. Address conventions are documented on {@link Fixtures}.
 */
class EgressPlannerTest {
  record Case(String desc, Fixtures cluster, List<String> plans, List<String> findings) {
    @Override
    public String toString() {
      return desc;
    }
  }

  static Case c(String desc, Fixtures cluster, List<String> plans, String... findings) {
    return new Case(desc, cluster, plans, List.of(findings));
  }

  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final Instant T1 = Instant.parse("2026-01-01T00:05:00Z");

  static Stream<Case> cases() {
    return Stream.of(
        c(
            "gateway local: the announcing node has the only endpoint, so it SNATs it and no"
                + " other node has anything to do",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.1.5", "node-1")
                .l2("ns/a", "node-1"),
            List.of(
                "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                    + " src=10.0.1.5")),
        c(
            "forward: a pod on node-2 is routed to the gateway node-1's InternalIP; the gateway"
                + " gets every endpoint even without local ones",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .l2("ns/a", "node-1"),
            List.of(
                "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5",
                "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.2.5")),
        c(
            "reject, no announcer: without a ServiceL2Status nobody may SNAT, so the node with"
                + " the pod rejects its traffic (fail closed)",
            cluster().threeNodes().svc("ns/a", "198.51.100.10").ep("ns/a", "10.0.2.5", "node-2"),
            List.of("node-2 ns/a Reject/NoAnnouncer | v4 snat=198.51.100.10 src=10.0.2.5")),
        c(
            "reject, unknown node: MetalLB names a node that is not in the cluster",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .l2("ns/a", "node-9"),
            List.of(
                "node-2 ns/a Reject/AnnouncerNodeUnknown gw=node-9 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5")),
        c(
            "reject, missing family: the gateway has no IPv6 InternalIP, so a dual-stack pod on"
                + " another node forwards IPv4 but rejects IPv6 (two entries, Forward first)",
            cluster()
                .node("node-1", "192.0.2.1")
                .node("node-2", "192.0.2.2", "2001:db8::2")
                .svc("ns/a", "198.51.100.10", "2001:db8:100::10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .ep("ns/a", "fd00:2::5", "node-2")
                .l2("ns/a", "node-1"),
            List.of(
                "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5 | v6 snat=2001:db8:100::10 src=fd00:2::5",
                "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.2.5",
                "node-2 ns/a Reject/GatewayHasNoInternalIPv6 gw=node-1 | v6"
                    + " snat=2001:db8:100::10 src=fd00:2::5")),
        c(
            "dual-stack: both families share one entry per node when the role is the same;"
                + " only the first IP of each family counts",
            cluster()
                .threeNodes()
                .svc("ns/a", "2001:db8:100::10", "198.51.100.10", "198.51.100.11")
                .ep("ns/a", "10.0.2.5", "node-2")
                .ep("ns/a", "fd00:2::5", "node-2")
                .l2("ns/a", "node-3"),
            List.of(
                "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-3 | v4 snat=198.51.100.10"
                    + " via=192.0.2.3 src=10.0.2.5 | v6 snat=2001:db8:100::10 via=2001:db8::3"
                    + " src=fd00:2::5",
                "node-3 ns/a Gateway/AnnouncedByThisNode gw=node-3 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5 | v6 snat=2001:db8:100::10 src=fd00:2::5")),
        c(
            "single-stack IPv6: an IPv6-only Service gets IPv6 entries only; its IPv4 endpoints"
                + " have no LB IP to leave with and get no entry",
            cluster()
                .threeNodes()
                .svc("ns/a", "2001:db8:100::10")
                .ep("ns/a", "fd00:2::5", "node-2")
                .ep("ns/a", "10.0.3.5", "node-3")
                .l2("ns/a", "node-1"),
            List.of(
                "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v6 snat=2001:db8:100::10"
                    + " src=fd00:2::5",
                "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v6 snat=2001:db8:100::10"
                    + " via=2001:db8::1 src=fd00:2::5")),
        c(
            "FILTER_ENDPOINTS_FOR_NODE=true: each non-gateway node gets only its own pods",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .ep("ns/a", "10.0.3.5", "node-3")
                .l2("ns/a", "node-1"),
            List.of(
                "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5,10.0.3.5",
                "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.2.5",
                "node-3 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.3.5")),
        c(
            "FILTER_ENDPOINTS_FOR_NODE=false: every node, even one without pods, gets all"
                + " endpoints",
            cluster()
                .threeNodes()
                .node("node-4", "192.0.2.4")
                .unfiltered()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .ep("ns/a", "10.0.3.5", "node-3")
                .l2("ns/a", "node-1"),
            List.of(
                "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5,10.0.3.5",
                "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.2.5,10.0.3.5",
                "node-3 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.2.5,10.0.3.5",
                "node-4 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.2.5,10.0.3.5")),
        c(
            "two announcers (failover in progress): the newest ServiceL2Status wins and a"
                + " Warning says so",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .l2("ns/a", "l2-old", T0, "node-1")
                .l2("ns/a", "l2-new", T1, "node-3"),
            List.of(
                "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-3 | v4 snat=198.51.100.10"
                    + " via=192.0.2.3 src=10.0.2.5",
                "node-3 ns/a Gateway/AnnouncedByThisNode gw=node-3 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5"),
            "ns/a Warning/MultipleAnnouncers"),
        c(
            "two announcers created in the same second: the name decides, deterministically",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .l2("ns/a", "l2-b", T0, "node-3")
                .l2("ns/a", "l2-a", T0, "node-1"),
            List.of(
                "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5",
                "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.2.5"),
            "ns/a Warning/MultipleAnnouncers"),
        c(
            "empty status: a fresh ServiceL2Status whose status is not written yet names the"
                + " node in its metallb.io/node label",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .announcer(
                    new AnnouncerInfo(
                        Fixtures.METALLB, "l2-x", T0, "a", "ns", null, null, "node-2")),
            List.of(
                "node-2 ns/a Gateway/AnnouncedByThisNode gw=node-2 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5")),
        c(
            "legacy MetalLB 0.14.4-0.14.5: the object lives in the Service's namespace with"
                + " label metallb.io/service=<name>",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .announcer(new AnnouncerInfo("ns", "l2-x", T0, null, null, "a", "node-1", null)),
            List.of(
                "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5",
                "node-2 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.2.5")),
        c(
            "an object with the current labels outside METALLB_NAMESPACE is not MetalLB's:"
                + " ignored, so there is no announcer",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .announcer(new AnnouncerInfo("other", "l2-x", T0, "a", "ns", null, "node-1", null)),
            List.of("node-2 ns/a Reject/NoAnnouncer | v4 snat=198.51.100.10 src=10.0.2.5")),
        c(
            "malformed LB IP: ns/a gets no rules and a Warning; ns/b is not affected",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.300")
                .ep("ns/a", "10.0.2.5", "node-2")
                .l2("ns/a", "node-1")
                .svc("ns/b", "198.51.100.20")
                .ep("ns/b", "10.0.2.6", "node-2")
                .l2("ns/b", "node-2"),
            List.of(
                "node-2 ns/b Gateway/AnnouncedByThisNode gw=node-2 | v4 snat=198.51.100.20"
                    + " src=10.0.2.6"),
            "ns/a Warning/InvalidLoadBalancerIP"),
        c(
            "malformed endpoint address: that address is skipped with a Warning, the rest is"
                + " planned",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2", "node-2")
                .ep("ns/a", "10.0.2.5", "node-2")
                .l2("ns/a", "node-2"),
            List.of(
                "node-2 ns/a Gateway/AnnouncedByThisNode gw=node-2 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5"),
            "ns/a Warning/InvalidEndpointAddress"),
        c(
            "Service without LB IP yet: no rules and a Warning",
            cluster()
                .threeNodes()
                .svc("ns/a")
                .ep("ns/a", "10.0.2.5", "node-2")
                .l2("ns/a", "node-1"),
            List.of(),
            "ns/a Warning/NoLoadBalancerIP"),
        c(
            "Service that is not type LoadBalancer: no rules and a Warning",
            cluster().threeNodes().svcOfType("ns/a", "ClusterIP").ep("ns/a", "10.0.2.5", "node-2"),
            List.of(),
            "ns/a Warning/NotLoadBalancer"),
        c(
            "unlabelled Service: ignored entirely, no entries and no Events",
            cluster()
                .threeNodes()
                .unlabelledSvc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .l2("ns/a", "node-1"),
            List.of()),
        c(
            "a pod in two labelled Services with different LB IPs belongs to ns/a (sorts first);"
                + " ns/b keeps its other pod and gets a Warning naming the shared one",
            cluster()
                .threeNodes()
                .svc("ns/b", "198.51.100.20")
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2", "web-1")
                .ep("ns/b", "10.0.2.5", "node-2", "web-1")
                .ep("ns/b", "10.0.2.6", "node-2", "web-2")
                .l2("ns/a", "node-2")
                .l2("ns/b", "node-2"),
            List.of(
                "node-2 ns/a Gateway/AnnouncedByThisNode gw=node-2 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5",
                "node-2 ns/b Gateway/AnnouncedByThisNode gw=node-2 | v4 snat=198.51.100.20"
                    + " src=10.0.2.6"),
            "ns/b Warning/PodInMultipleServices"),
        c(
            "a pod in two labelled Services with the same LB IP: no conflict, both keep it",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .svc("ns/b", "198.51.100.10")
                .ep("ns/a", "10.0.2.5", "node-2")
                .ep("ns/b", "10.0.2.5", "node-2")
                .l2("ns/a", "node-2")
                .l2("ns/b", "node-2"),
            List.of(
                "node-2 ns/a Gateway/AnnouncedByThisNode gw=node-2 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5",
                "node-2 ns/b Gateway/AnnouncedByThisNode gw=node-2 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5")),
        c(
            "hostNetwork endpoint: an address that is node-2's own is never planned (SNAT would"
                + " rewrite the node's traffic) and gets a Warning",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "192.0.2.2", "node-2")
                .ep("ns/a", "10.0.3.5", "node-3")
                .l2("ns/a", "node-1"),
            List.of(
                "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                    + " src=10.0.3.5",
                "node-3 ns/a Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.3.5"),
            "ns/a Warning/HostNetworkEndpoint"),
        c(
            "endpoint without nodeName: only the gateway, which gets every endpoint, covers it",
            cluster()
                .threeNodes()
                .svc("ns/a", "198.51.100.10")
                .ep("ns/a", "10.0.9.9", null)
                .l2("ns/a", "node-1"),
            List.of(
                "node-1 ns/a Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                    + " src=10.0.9.9")),
        c(
            "Service without endpoints: no entries anywhere (every node still has an empty"
                + " plan)",
            cluster().threeNodes().svc("ns/a", "198.51.100.10").l2("ns/a", "node-1"),
            List.of()),
        c(
            "order: entries by namespace then name then role; sources sorted numerically and"
                + " duplicates across slices merged",
            cluster()
                .threeNodes()
                .svc("z/a", "198.51.100.30")
                .svc("a/z", "198.51.100.10")
                .ep("z/a", "10.0.2.10", "node-2")
                .ep("z/a", "10.0.2.9", "node-2")
                .ep("z/a", "10.0.2.9", "node-2")
                .ep("a/z", "10.0.2.5", "node-2")
                .l2("z/a", "node-2")
                .l2("a/z", "node-1"),
            List.of(
                "node-1 a/z Gateway/AnnouncedByThisNode gw=node-1 | v4 snat=198.51.100.10"
                    + " src=10.0.2.5",
                "node-2 a/z Forward/AnnouncedByOtherNode gw=node-1 | v4 snat=198.51.100.10"
                    + " via=192.0.2.1 src=10.0.2.5",
                "node-2 z/a Gateway/AnnouncedByThisNode gw=node-2 | v4 snat=198.51.100.30"
                    + " src=10.0.2.9,10.0.2.10")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void plans(Case tc) {
    Snapshot snap = tc.cluster().snapshot();
    EgressPlanner.PlanResult result = EgressPlanner.plan(snap);
    assertEquals(tc.plans(), Fixtures.render(result.plans()), tc.desc());
    assertEquals(
        tc.findings(),
        result.findings().stream()
            .map(f -> f.service() + " " + f.severity() + "/" + f.reason())
            .toList(),
        tc.desc());
    assertEquals(snap.nodes().keySet(), result.plans().keySet(), "every node has a plan");
    result.plans().forEach((node, spec) -> assertEquals(node, spec.getNodeName()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void inputOrderDoesNotMatter(Case tc) {
    Snapshot snap = tc.cluster().snapshot();
    Map<String, EgressPlanSpec> expected = EgressPlanner.plan(snap).plans();
    Random random = new Random(42);
    for (int i = 0; i < 5; i++) {
      List<ServiceInput> services = new ArrayList<>(snap.services());
      List<AnnouncerInfo> announcers = new ArrayList<>(snap.announcers());
      Collections.shuffle(services, random);
      Collections.shuffle(announcers, random);
      Map<ServiceKey, List<EndpointInput>> eps = new java.util.HashMap<>();
      snap.endpoints()
          .forEach(
              (k, list) -> {
                List<EndpointInput> copy = new ArrayList<>(list);
                Collections.shuffle(copy, random);
                eps.put(k, copy);
              });
      Snapshot shuffled = new Snapshot(snap.config(), snap.nodes(), services, eps, announcers);
      assertEquals(expected, EgressPlanner.plan(shuffled).plans(), tc.desc());
    }
  }

  @org.junit.jupiter.api.Test
  void warningsExplainThemselves() {
    Snapshot snap =
        cluster()
            .threeNodes()
            .svc("ns/b", "198.51.100.20")
            .svc("ns/a", "198.51.100.10")
            .ep("ns/a", "10.0.2.5", "node-2", "web-1")
            .ep("ns/b", "10.0.2.5", "node-2", "web-1")
            .ep("ns/b", "192.0.2.3", "node-3", "agent-x")
            .l2("ns/b", "l2-1", T0, "node-1")
            .l2("ns/b", "l2-2", T1, "node-2")
            .snapshot();
    List<String> messages =
        EgressPlanner.plan(snap).findings().stream().map(Finding::message).toList();
    assertEquals(3, messages.size(), messages.toString());
    assertTrue(messages.get(0).contains("metallb-system/l2-2 on node-2"), messages.get(0));
    assertTrue(messages.get(1).contains("pod ns/agent-x (192.0.2.3)"), messages.get(1));
    assertTrue(messages.get(1).contains("node node-3"), messages.get(1));
    assertTrue(messages.get(2).contains("pod ns/web-1 (10.0.2.5)"), messages.get(2));
    assertTrue(messages.get(2).contains("ns/a"), messages.get(2));
  }
}
