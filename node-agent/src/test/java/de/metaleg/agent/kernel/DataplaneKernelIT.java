package de.metaleg.agent.kernel;

import static de.metaleg.agent.kernel.KernelTestSupport.out;
import static de.metaleg.agent.kernel.KernelTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.Names;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Both firewall backends (iptables in both flavours, nftables) against the real tools in a
 * throwaway namespace ({@code megA-*} / {@code megN-*}). The iptables-only test at the end covers
 * entry recovery, which the nftables backend does not implement.
 *
 * <p>Addresses: the namespace's link 192.0.2.1/24 and 2001:db8::1/64 (gateway nodes .2/.3 and
 * ::2/::3 on it), pods 10.244.1.x / fd00:10:244:1::x, LB IPs 198.51.100.x / 2001:db8:100::x, and
 * 203.0.113.9 as a gateway that is not on any link (its route must fail).
 */
class DataplaneKernelIT {
  private KernelTestSupport kernel;
  private ProcessRunner ns;
  private NodeFacts facts;

  @BeforeEach
  void setUp() {
    KernelTestSupport.requireKernel();
    kernel = new KernelTestSupport();
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
  }

  @AfterEach
  void tearDown() {
    if (kernel != null) {
      kernel.close();
    }
  }

  private void prepare(String name, Backend backend) {
    ns = kernel.namespace(backend.namespacePrefix(), name);
    IptablesFlavor flavor = backend.iptables();
    sh(
        ns,
        "ip link add lan0 type veth peer name lan1 && ip link set lan0 up && ip link set lan1 up");
    sh(ns, "ip addr add 192.0.2.1/24 dev lan0 && ip addr add 2001:db8::1/64 dev lan0 nodad");
    // foreign objects that must survive everything MetalEG does
    for (Family f : Family.values()) {
      String ipt = flavor.iptables(f);
      sh(ns, ipt + " -t mangle -A PREROUTING -p udp --dport 9999 -j MARK --set-mark 0x1");
      sh(
          ns,
          ipt
              + " -t nat -A POSTROUTING -s "
              + (f == Family.V4 ? "10.244.0.0/16" : "fd00:10:244::/48")
              + " -j MASQUERADE");
      sh(ns, ipt + " -t filter -A FORWARD -p tcp --dport 9999 -j ACCEPT");
    }
    sh(
        ns,
        "ip rule add fwmark 0x1 table 300 priority 20000 && ip route add default via 192.0.2.254 table 300");
    sh(ns, "ipset create foreign-set hash:ip");
    sh(
        ns,
        "nft add table inet foreign && nft add chain inet foreign pre"
            + " '{ type filter hook prerouting priority mangle; }'"
            + " && nft add rule inet foreign pre udp dport 9999 counter");
  }

  private void assertForeignSurvives(IptablesFlavor flavor) {
    for (Family f : Family.values()) {
      String save = out(ns, flavor.save(f));
      assertTrue(save.contains("--dport 9999 -j MARK --set-xmark 0x1/0xffffffff"), save);
      assertTrue(save.contains("-j MASQUERADE"), save);
      assertTrue(save.contains("--dport 9999 -j ACCEPT"), save);
    }
    assertTrue(out(ns, "ip rule").contains("lookup 300"));
    assertTrue(out(ns, "ip route show table 300").contains("192.0.2.254"));
    assertTrue(out(ns, "ipset list -n").contains("foreign-set"));
    assertTrue(out(ns, "nft list table inet foreign").contains("udp dport 9999 counter"));
  }

  /** The elements of one set or map of MetalEG's nft table (nftables backend). */
  private List<String> nft(String setOrMap) {
    return new NftReader(ns).table().orElseThrow().elements().getOrDefault(setOrMap, List.of());
  }

  private java.util.Set<String> nftChains() {
    return new NftReader(ns).table().orElseThrow().chains().keySet();
  }

  static Entry forward(String service, Family f, String node, String gw, String... sources) {
    return new Entry(
        service,
        f,
        Role.Forward,
        "AnnouncedByOtherNode",
        Optional.of(node),
        Optional.of(gw),
        Optional.empty(),
        List.of(sources));
  }

  static Entry gateway(String service, Family f, String snat, String... sources) {
    return new Entry(
        service,
        f,
        Role.Gateway,
        "AnnouncedByThisNode",
        Optional.of("node-a"),
        Optional.empty(),
        Optional.of(snat),
        List.of(sources));
  }

  static Entry reject(String service, Family f, String... sources) {
    return new Entry(
        service,
        f,
        Role.Reject,
        "NoAnnouncer",
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        List.of(sources));
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void programsChangesAndRemovesOwnedStateOnly(Backend backend) {
    prepare("dp-" + backend.shortName(), backend);
    IptablesFlavor flavor = backend.iptables();
    Dataplane dp = backend.create(ns, facts);
    String webSet4 = Names.sourceSet("shop/web", Family.V4);
    String webSet6 = Names.sourceSet("shop/web", Family.V6);

    List<Entry> entries = new ArrayList<>();
    entries.add(forward("shop/web", Family.V4, "node-b", "192.0.2.2", "10.244.1.5"));
    entries.add(forward("shop/web", Family.V6, "node-b", "2001:db8::2", "fd00:10:244:1::5"));
    entries.add(gateway("shop/api", Family.V4, "198.51.100.10", "10.244.1.7"));
    entries.add(reject("shop/batch", Family.V4, "10.244.1.9"));
    entries.add(forward("shop/other", Family.V4, "node-c", "192.0.2.3", "10.244.1.8"));
    dp.sync(new DesiredPlan(entries), false);

    if (backend.nft()) {
      String table = out(ns, "nft list table inet metaleg");
      assertTrue(table.contains("type filter hook prerouting priority mangle;"), table);
      assertTrue(table.contains("type nat hook postrouting priority srcnat - 10;"), table);
      assertTrue(table.contains("type filter hook forward priority filter;"), table);
      assertTrue(nft("mark4").contains("10.244.1.5 : goto mark-1"), table);
      assertTrue(nft("mark4").contains("10.244.1.8 : goto mark-2"), table);
      assertTrue(nft("mark6").contains("fd00:10:244:1::5 : goto mark-1"), table);
      // nft prints the "keep other bits" mask folded with the value: & 0xff1fffff | 0x00100000
      assertTrue(table.contains("meta mark set meta mark & 0xff1fffff | 0x00100000"), table);
      assertTrue(nft("snat4").contains("10.244.1.7 : 198.51.100.10"), table);
      assertEquals(List.of("10.244.1.9"), nft("reject4"), table);
    } else {
      String save4 = out(ns, flavor.save(Family.V4));
      assertTrue(save4.contains("-A PREROUTING -j METALEG-MARK"), save4);
      assertTrue(save4.contains("-A POSTROUTING -j METALEG-POSTROUTING"), save4);
      assertTrue(save4.contains("-A FORWARD -j METALEG-FORWARD"), save4);
      assertTrue(
          save4.contains(
              "--match-set "
                  + webSet4
                  + " src -m comment --comment \"metaleg forward shop/web\" -j MARK --set-xmark 0x100000/0xf00000"),
          save4);
      assertTrue(save4.contains("-j SNAT --to-source 198.51.100.10"), save4);
      assertTrue(save4.contains("-j REJECT --reject-with icmp-port-unreachable"), save4);
      assertTrue(out(ns, "ipset save").contains("add " + webSet4 + " 10.244.1.5"));
      assertTrue(out(ns, "ipset save").contains("add " + webSet6 + " fd00:10:244:1::5"));
      // the nat chain's first rule lets marked packets skip the masquerade
      assertTrue(
          save4.contains(
              "-A POSTROUTING -j METALEG-POSTROUTING\n-A POSTROUTING -s 10.244.0.0/16 -j MASQUERADE"),
          save4);
    }
    assertTrue(
        out(ns, "ip rule").contains("10000:\tfrom all fwmark 0x100000/0xf00000 lookup 100001"));
    assertTrue(
        out(ns, "ip -6 rule").contains("10000:\tfrom all fwmark 0x100000/0xf00000 lookup 100001"));
    assertTrue(out(ns, "ip route show table 100001").startsWith("default via 192.0.2.2"));
    assertTrue(out(ns, "ip -6 route show table 100001").startsWith("default via 2001:db8::2"));
    assertEquals(Optional.empty(), dp.drift());
    assertForeignSurvives(flavor);

    // one pod added: incremental, only the set (or map) changes
    entries.set(
        0, forward("shop/web", Family.V4, "node-b", "192.0.2.2", "10.244.1.5", "10.244.1.6"));
    assertFalse(dp.sync(new DesiredPlan(entries), false).full());
    if (backend.nft()) {
      assertTrue(nft("mark4").contains("10.244.1.6 : goto mark-1"), nft("mark4").toString());
    } else {
      assertTrue(out(ns, "ipset save").contains("add " + webSet4 + " 10.244.1.6"));
    }
    assertEquals(Optional.empty(), dp.drift());

    // shop/web's gateway moves to node-c (already used by shop/other): node-b's mark, rule and
    // table are gone
    entries.set(
        0, forward("shop/web", Family.V4, "node-c", "192.0.2.3", "10.244.1.5", "10.244.1.6"));
    entries.set(1, forward("shop/web", Family.V6, "node-c", "2001:db8::3", "fd00:10:244:1::5"));
    dp.sync(new DesiredPlan(entries), false);
    assertTrue(out(ns, "ip route show table 100002").startsWith("default via 192.0.2.3"));
    assertTrue(out(ns, "ip -6 route show table 100002").startsWith("default via 2001:db8::3"));
    assertEquals("", out(ns, "ip route show table 100001"));
    assertFalse(out(ns, "ip rule").contains("lookup 100001"));
    if (backend.nft()) {
      assertTrue(nft("mark4").contains("10.244.1.5 : goto mark-2"), nft("mark4").toString());
      assertTrue(nft("mark6").contains("fd00:10:244:1::5 : goto mark-2"));
      assertFalse(nftChains().contains("mark-1"), nftChains().toString());
    } else {
      assertTrue(out(ns, flavor.save(Family.V4)).contains("--set-xmark 0x200000/0xf00000"));
      assertFalse(out(ns, flavor.save(Family.V4)).contains("--set-xmark 0x100000/0xf00000"));
    }

    // restart: a new agent adopts node-c's mark although index 1 is free now
    dp = backend.create(ns, facts);
    dp.sync(new DesiredPlan(entries), false);
    assertEquals(Map.of("node-c", 2), dp.allocation());
    assertTrue(out(ns, "ip route show table 100002").startsWith("default via 192.0.2.3"));
    assertEquals(
        1, countMatches(out(ns, "ip rule"), "lookup 100002"), "no duplicate ip rule after restart");
    if (backend.nft()) {
      NftReader.ObservedTable t = new NftReader(ns).table().orElseThrow();
      assertEquals(5, t.chains().get("prerouting").size(), "no duplicate rules: " + t);
      assertEquals(
          java.util.Set.of("forward", "postrouting", "prerouting", "mark-2"), t.chains().keySet());
    } else {
      assertEquals(
          1,
          countMatches(out(ns, flavor.save(Family.V4)), "-A PREROUTING -j METALEG-MARK"),
          "no duplicate jump");
    }
    assertEquals(Optional.empty(), dp.drift());

    // switch to Reject (and shop/other removed): marks, rules and table gone, rejects present
    entries.remove(4);
    entries.set(0, reject("shop/web", Family.V4, "10.244.1.5", "10.244.1.6"));
    entries.set(1, reject("shop/web", Family.V6, "fd00:10:244:1::5"));
    dp.sync(new DesiredPlan(entries), false);
    if (backend.nft()) {
      assertEquals(List.of(), nft("mark4"));
      assertEquals(List.of(), nft("mark6"));
      assertEquals(
          java.util.Set.of("10.244.1.5", "10.244.1.6", "10.244.1.9"),
          new java.util.HashSet<>(nft("reject4")));
      assertEquals(List.of("fd00:10:244:1::5"), nft("reject6"));
      assertFalse(nftChains().contains("mark-2"), nftChains().toString());
    } else {
      String save = out(ns, flavor.save(Family.V4));
      assertFalse(save.contains("-j MARK --set-xmark 0x200000"), save);
      assertTrue(
          save.contains(
              "--match-set "
                  + webSet4
                  + " src -m comment --comment \"metaleg reject shop/web\" -j REJECT"),
          save);
      assertTrue(
          out(ns, flavor.save(Family.V6))
              .contains(
                  "--match-set "
                      + webSet6
                      + " src -m comment --comment \"metaleg reject shop/web\" -j REJECT --reject-with icmp6-port-unreachable"));
    }
    assertFalse(out(ns, "ip rule").contains("lookup 10000"));
    assertEquals("", out(ns, "ip route show table 100002"));

    // entry removed: its sets (or elements) are gone
    entries.remove(1);
    entries.remove(0);
    dp.sync(new DesiredPlan(entries), false);
    if (backend.nft()) {
      assertEquals(List.of("10.244.1.9"), nft("reject4"));
      assertEquals(List.of(), nft("reject6"));
    } else {
      assertFalse(out(ns, "ipset list -n").contains(webSet4));
      assertFalse(out(ns, "ipset list -n").contains(webSet6));
    }
    assertForeignSurvives(flavor);

    // external flush: the canary notices, a full sync repairs
    if (backend.nft()) {
      sh(ns, "nft flush chain inet metaleg postrouting && nft flush map inet metaleg snat4");
      assertTrue(dp.drift().isPresent());
      dp.sync(new DesiredPlan(entries), true);
      assertEquals(Optional.empty(), dp.drift());
      // an element replaced by another one: same count, other contents
      sh(
          ns,
          "nft delete element inet metaleg snat4 '{ 10.244.1.7 }'"
              + " && nft add element inet metaleg snat4 '{ 10.244.1.77 : 198.51.100.10 }'");
      assertTrue(dp.drift().orElseThrow().contains("contents differ"), dp.drift().toString());
      dp.sync(new DesiredPlan(entries), true);
      assertEquals(Optional.empty(), dp.drift());
      sh(ns, "nft delete table inet metaleg");
      assertTrue(dp.drift().orElseThrow().contains("table inet metaleg missing"));
      dp.sync(new DesiredPlan(entries), true);
      assertEquals(Optional.empty(), dp.drift());
      assertTrue(nft("snat4").contains("10.244.1.7 : 198.51.100.10"));
      // a chain of ours re-declared with another priority: the table is replaced
      sh(
          ns,
          "nft delete chain inet metaleg forward && nft add chain inet metaleg forward"
              + " '{ type filter hook forward priority 5; }'");
      dp.sync(new DesiredPlan(entries), true);
      assertTrue(
          out(ns, "nft list chain inet metaleg forward").contains("priority filter;"),
          "forward chain back at its priority");
      assertEquals(Optional.empty(), dp.drift());
    } else {
      sh(ns, flavor.iptables(Family.V4) + " -t nat -F METALEG-POSTROUTING");
      sh(ns, flavor.iptables(Family.V6) + " -t mangle -D PREROUTING -j METALEG-MARK");
      assertTrue(dp.drift().isPresent());
      dp.sync(new DesiredPlan(entries), true);
      assertEquals(Optional.empty(), dp.drift());
      assertTrue(out(ns, flavor.save(Family.V4)).contains("-j SNAT --to-source 198.51.100.10"));
      // a CNI inserts its masquerade above our jump: the canary notices, a full sync moves our
      // jump back to the top and keeps the CNI's rule
      String masq = "-s 10.244.0.0/16 ! -d 10.244.0.0/16 -j MASQUERADE";
      sh(ns, flavor.iptables(Family.V4) + " -t nat -I POSTROUTING 1 " + masq);
      assertTrue(
          dp.drift().orElseThrow().contains("METALEG-POSTROUTING at position 2"),
          dp.drift().toString());
      dp.sync(new DesiredPlan(entries), true);
      assertEquals(Optional.empty(), dp.drift());
      List<String> postrouting =
          out(ns, flavor.iptables(Family.V4) + " -t nat -S POSTROUTING").lines().toList();
      assertEquals(
          "-A POSTROUTING -j METALEG-POSTROUTING", postrouting.get(1), postrouting.toString());
      assertEquals(
          1,
          postrouting.stream().filter(l -> l.contains("METALEG-POSTROUTING")).count(),
          "the old jump is gone: " + postrouting);
      assertTrue(postrouting.get(2).contains("MASQUERADE"), postrouting.toString());
    }

    // --cleanup: nothing of ours left, twice in a row, foreign state intact
    assertEquals(List.of(), Cleanup.run(ns, facts.marks()));
    assertEquals(List.of(), Cleanup.run(ns, facts.marks()));
    for (IptablesFlavor fl : IptablesFlavor.values()) {
      for (Family f : Family.values()) {
        assertFalse(out(ns, fl.save(f)).contains("METALEG"), fl.save(f));
      }
    }
    assertFalse(out(ns, "nft list tables").contains("metaleg"));
    assertFalse(out(ns, "ipset list -n").contains("metaleg-"));
    assertFalse(out(ns, "ip rule").contains("10000:"));
    assertFalse(out(ns, "ip -6 rule").contains("10000:"));
    assertForeignSurvives(flavor);
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void unroutableGatewayIsRejectedNotMarked(Backend backend) {
    prepare("unr-" + backend.shortName(), backend);
    Dataplane dp = backend.create(ns, facts);
    var result =
        dp.sync(
            new DesiredPlan(
                List.of(forward("shop/web", Family.V4, "node-x", "203.0.113.9", "10.244.1.5"))),
            false);
    assertEquals(1, result.state().problems().size(), result.state().problems().toString());
    assertFalse(result.warnings().isEmpty());
    if (backend.nft()) {
      assertEquals(List.of(), nft("mark4"));
      assertEquals(List.of("10.244.1.5"), nft("reject4"));
    } else {
      String save = out(ns, backend.iptables().save(Family.V4));
      assertFalse(save.contains("--set-xmark 0x100000"), save);
      assertTrue(save.contains("metaleg reject shop/web"), save);
    }
    assertFalse(out(ns, "ip rule").contains("10000:"), "no rule without a route");
  }

  @ParameterizedTest
  @EnumSource(IptablesFlavor.class)
  void restartRecoversTheProgrammedStateOfEntriesThatAreNowInvalid(IptablesFlavor flavor) {
    prepare("rec-" + flavor.name().toLowerCase(), Backend.valueOf("IPTABLES_" + flavor.name()));
    List<Entry> programmed =
        List.of(
            forward("shop/web", Family.V4, "node-b", "192.0.2.2", "10.244.1.5", "10.244.1.6"),
            forward("shop/web", Family.V6, "node-b", "2001:db8::2", "fd00:10:244:1::5"),
            gateway("shop/api", Family.V4, "198.51.100.10", "10.244.1.7"),
            reject("shop/batch", Family.V4, "10.244.1.9"));
    new IptablesDataplane(ns, flavor, facts).sync(new DesiredPlan(programmed), false);

    // a new process; the plan still has a valid entry forwarding to node-b
    IptablesDataplane restarted = new IptablesDataplane(ns, flavor, facts);
    DesiredPlan others =
        new DesiredPlan(
            List.of(forward("shop/other", Family.V4, "node-b", "192.0.2.2", "10.244.1.8")));
    Map<String, List<Entry>> recovered =
        restarted.recoverEntries(
            java.util.Set.of("shop/web", "shop/api", "shop/batch", "shop/new"), others);
    assertEquals(java.util.Set.of("shop/web", "shop/api", "shop/batch"), recovered.keySet());
    for (Entry want : programmed) {
      Entry got =
          recovered.get(want.service()).stream()
              .filter(e -> e.family() == want.family())
              .findFirst()
              .orElseThrow();
      assertEquals(want.role(), got.role(), want.key());
      assertEquals(want.sources(), got.sources(), want.key());
      assertEquals(want.gatewayIp(), got.gatewayIp(), want.key());
      assertEquals(want.snatIp(), got.snatIp(), want.key());
      if (want.role() == Role.Forward) {
        assertEquals(
            Optional.of("node-b"), got.gatewayNode(), "gateway node found via its IP in the plan");
      }
    }
    // programming the recovered entries with the rest changes nothing that was there
    String before = out(ns, flavor.save(Family.V4) + " | grep -- '-A METALEG' | sort");
    List<Entry> all = new ArrayList<>(others.entries());
    recovered.values().forEach(all::addAll);
    restarted.sync(new DesiredPlan(all), false);
    String after = out(ns, flavor.save(Family.V4) + " | grep -- '-A METALEG' | sort");
    assertTrue(after.contains("--set-xmark 0x100000/0xf00000"), after);
    assertEquals(
        before.lines().filter(l -> !l.contains("shop/other")).toList(),
        after.lines().filter(l -> !l.contains("shop/other")).toList());
  }

  private static int countMatches(String text, String needle) {
    int n = 0;
    for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }
}
