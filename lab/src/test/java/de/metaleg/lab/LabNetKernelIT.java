package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The lab network on its own, with the egress rules installed by hand the way LAB-NOTES describes
 * them (no MetalEG jars): proves that the topology carries LB-IP egress both ways in both families,
 * and that the probes and router counters the end-to-end suite relies on can tell a correct
 * dataplane from a leaking or rejecting one.
 */
class LabNetKernelIT {
  static LabPlan plan;
  static final String SRC4 = "10.244.1.10,10.244.2.10,10.244.3.10";
  static final String SRC6 = "fd44:0:0:1::10,fd44:0:0:2::10,fd44:0:0:3::10";

  @BeforeAll
  static void up() {
    if (!"root".equals(System.getProperty("user.name"))
        || !Cmd.run("sh", "-c", "command -v iptables && command -v nft").ok()) {
      String why = "lab network test needs root, iptables and nft";
      if ("required".equals(System.getProperty("metaleg.kernelTests"))) {
        fail(why);
      }
      Assumptions.abort(why);
    }
    Cmd.run(List.of("bash", Lab.LAB_NET.toString(), "up"), 60).orThrow();
    plan = LabPlan.load(Lab.LAB_NET);
  }

  @AfterAll
  static void down() {
    Cmd.run(List.of("bash", Lab.LAB_NET.toString(), "down"), 60);
    assertEquals(
        "",
        Cmd.run("sh", "-c", "ip netns list | grep '^megl-' || true").output().strip(),
        "lab-net.sh down left namespaces");
  }

  @Test
  void handInstalledEgressShowsLbIpAndRejectLeaksNothing() {
    // Without rules: node IPs (the CNI masquerade).
    assertSources(Map.of("1a", "10.89.0.11", "2a", "10.89.0.12", "3a", "10.89.0.13"), "fd89::1");

    // Gateway node-2, as LAB-NOTES' verified recipe.
    Cmd.run("bash", Lab.LAB_NET.toString(), "announce", "node-2").orThrow();
    for (String n : List.of("megl-node-1", "megl-node-3")) {
      sh(
          n,
          "iptables -t mangle -A PREROUTING -s "
              + SRC4
              + " -d 203.0.113.10 -j MARK --set-xmark 0x100000/0xf00000");
      sh(
          n,
          "ip6tables -t mangle -A PREROUTING -s "
              + SRC6
              + " -d 2001:db8:203::10 -j MARK --set-xmark 0x100000/0xf00000");
      sh(n, "ip rule add fwmark 0x100000/0xf00000 table 100001 priority 10000");
      sh(n, "ip -6 rule add fwmark 0x100000/0xf00000 table 100001 priority 10000");
      sh(n, "ip route replace default via 10.89.0.12 table 100001");
      sh(n, "ip -6 route replace default via fd89::12 table 100001");
    }
    for (String n : List.of("megl-node-1", "megl-node-2", "megl-node-3")) {
      sh(n, "iptables -t nat -I POSTROUTING 1 -m mark ! --mark 0/0xf00000 -j ACCEPT");
      sh(n, "ip6tables -t nat -I POSTROUTING 1 -m mark ! --mark 0/0xf00000 -j ACCEPT");
    }
    sh(
        "megl-node-2",
        "iptables -t nat -I POSTROUTING 2 -s "
            + SRC4
            + " -d 203.0.113.10 -j SNAT --to-source 198.51.100.10");
    sh(
        "megl-node-2",
        "ip6tables -t nat -I POSTROUTING 2 -s "
            + SRC6
            + " -d 2001:db8:203::10 -j SNAT --to-source 2001:db8:51::10");
    for (String pod : List.of("1a", "2a", "3a")) {
      assertEquals("198.51.100.10", probe(pod, plan.externalIPv4()).seen(), pod);
      assertEquals("2001:db8:51::10", probe(pod, plan.externalIPv6()).seen(), pod);
      assertEquals(
          plan.node(plan.pod(pod).node()).ipv4(), probe(pod, plan.excludedIPv4()).seen(), pod);
    }
    assertEquals("10.89.0.11", probe("1b", plan.externalIPv4()).seen(), "non-endpoint pod");

    // The router's neighbour entry pointing elsewhere breaks the return path: probes must see it.
    Cmd.run("bash", Lab.LAB_NET.toString(), "announce", "node-3").orThrow();
    assertTrue(!probe("1a", plan.externalIPv4()).ok(), "replies to node-3 must not reach pod 1a");
    Cmd.run("bash", Lab.LAB_NET.toString(), "announce", "node-2").orThrow();

    // Reject on every node, no marks: quick refusal, and the router counts nothing.
    for (String n : List.of("megl-node-1", "megl-node-2", "megl-node-3")) {
      sh(n, "iptables -t mangle -F PREROUTING; ip6tables -t mangle -F PREROUTING");
      sh(n, "iptables -I FORWARD -p tcp -s " + SRC4 + " -j REJECT --reject-with tcp-reset");
      sh(n, "ip6tables -I FORWARD -p tcp -s " + SRC6 + " -j REJECT --reject-with tcp-reset");
    }
    Cmd.run("bash", Lab.LAB_NET.toString(), "counters", "reset").orThrow();
    for (String pod : List.of("1a", "2a", "3a")) {
      for (String host : List.of(plan.externalIPv4(), plan.externalIPv6())) {
        Probe p = probe(pod, host);
        assertTrue(p.rejected() && p.millis() < 1000, pod + " -> " + host + ": " + p);
      }
    }
    String counters = Cmd.run("bash", Lab.LAB_NET.toString(), "counters").orThrow().output();
    assertTrue(counters.lines().allMatch(l -> l.endsWith(" 0")), counters);
    // ... and a leak would be counted: pod 1b is not rejected and shows up as a node address.
    assertEquals("10.89.0.11", probe("1b", plan.externalIPv4()).seen());
    counters = Cmd.run("bash", Lab.LAB_NET.toString(), "counters").orThrow().output();
    assertTrue(counters.contains("from_node_v4 "), counters);
    assertTrue(!counters.contains("from_node_v4 0\n"), counters);

    // NodeState recognises MetalEG-shaped ip rules (priority 10000, table >= 100000).
    assertTrue(
        NodeState.leftovers("megl-node-1").stream().anyMatch(l -> l.startsWith("ip -4 rule")),
        NodeState.leftovers("megl-node-1").toString());
  }

  static void assertSources(Map<String, String> v4, String v6Prefix) {
    v4.forEach(
        (pod, ip) -> {
          assertEquals(ip, probe(pod, plan.externalIPv4()).seen(), pod);
          assertTrue(probe(pod, plan.externalIPv6()).seen().startsWith(v6Prefix), pod);
        });
  }

  static Probe probe(String pod, String host) {
    return Probe.run(Lab.SCRIPTS, plan.pod(pod).ns(), host, plan.echoPort(), 2.0);
  }

  static void sh(String ns, String script) {
    Cmd.run(List.of("ip", "netns", "exec", ns, "sh", "-ec", script), 30).orThrow();
  }
}
