package de.metaleg.agent.kernel;

import static de.metaleg.agent.kernel.KernelTestSupport.out;
import static de.metaleg.agent.kernel.KernelTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Packets, not payloads: two node namespaces on a bridge, a pod behind node 1, an external host.
 * The agent's dataplane code programs node 1 (Forward to node 2) and node 2 (Gateway). The external
 * host counts UDP packets by source address.
 *
 * <pre>
 *  pod 10.244.1.5 / fd00:10:244:1::5
 *   | veth (10.244.1.1 / fd00:10:244:1::1)
 *  node1 192.0.2.1 / 2001:db8::1 ---+
 *  node2 192.0.2.2 / 2001:db8::2 ---+-- bridge (namespace megA-pk-lan)
 *  ext   192.0.2.254 / 2001:db8::fe +   with 203.0.113.10 / 2001:db8:ff::10 on lo,
 *                                       LB IPs 198.51.100.10 / 2001:db8:100::10 routed to node2
 * </pre>
 *
 * Both nodes carry a CNI-style masquerade for the pod CIDR, so a leak would show up as a node IP.
 * It lives in iptables-nft, iptables-legacy or a native nft table: with the nftables backend, a
 * verdict in MetalEG's nat chain does not end another table's nat chain at the same hook, so these
 * cases check that the explicit null binding (and the SNAT) at srcnat - 10 really wins.
 */
class PacketPathKernelIT {
  private static final String EXT4 = "203.0.113.10";
  private static final String EXT6 = "2001:db8:ff::10";
  private static final String LB4 = "198.51.100.10";
  private static final String LB6 = "2001:db8:100::10";
  private KernelTestSupport kernel;
  private ProcessRunner lan;
  private ProcessRunner n1;
  private ProcessRunner n2;
  private ProcessRunner pod;
  private ProcessRunner ext;
  private NodeFacts facts;

  @BeforeEach
  void setUp() {
    KernelTestSupport.requireKernel();
    kernel = new KernelTestSupport();
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node1"));
    facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
  }

  @AfterEach
  void tearDown() {
    if (kernel != null) {
      kernel.close();
    }
  }

  /** Where the nodes' CNI-style masquerade lives. */
  enum Cni {
    IPTABLES_NFT,
    IPTABLES_LEGACY,
    /** a native nftables table at priority srcnat, as kube-proxy's nftables mode has */
    NFT_TABLE;

    void masquerade(ProcessRunner node) {
      if (this == NFT_TABLE) {
        sh(
            node,
            "nft add table inet cni && nft add chain inet cni post"
                + " '{ type nat hook postrouting priority srcnat; }'"
                + " && nft add rule inet cni post ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 masquerade"
                + " && nft add rule inet cni post ip6 saddr fd00:10:244::/48 ip6 daddr != fd00:10:244::/48 masquerade");
        return;
      }
      IptablesFlavor flavor = this == IPTABLES_NFT ? IptablesFlavor.NFT : IptablesFlavor.LEGACY;
      sh(
          node,
          flavor.iptables(Family.V4)
              + " -t nat -A POSTROUTING -s 10.244.0.0/16 ! -d 10.244.0.0/16 -j MASQUERADE");
      sh(
          node,
          flavor.iptables(Family.V6)
              + " -t nat -A POSTROUTING -s fd00:10:244::/48 ! -d fd00:10:244::/48 -j MASQUERADE");
    }
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of(Backend.IPTABLES_NFT, Cni.IPTABLES_NFT),
        Arguments.of(Backend.IPTABLES_LEGACY, Cni.IPTABLES_LEGACY),
        Arguments.of(Backend.NFTABLES, Cni.IPTABLES_NFT),
        Arguments.of(Backend.NFTABLES, Cni.IPTABLES_LEGACY),
        Arguments.of(Backend.NFTABLES, Cni.NFT_TABLE));
  }

  private void build(Backend backend, Cni cni) {
    String f = backend.shortName() + cni.ordinal();
    TwoNodeLab lab = TwoNodeLab.build(kernel, backend.namespacePrefix(), "pk" + f, cni::masquerade);
    lan = lab.lan();
    n1 = lab.n1();
    n2 = lab.n2();
    pod = lab.pod();
    ext = lab.ext();
    for (Family fam : Family.values()) {
      String lb = fam == Family.V4 ? LB4 : LB6;
      sh(
          ext,
          "iptables-nft".replace("iptables", fam.iptables())
              + " -A INPUT -p udp --dport 9000 -s "
              + lb
              + " -j ACCEPT");
      sh(
          ext,
          "iptables-nft".replace("iptables", fam.iptables())
              + " -A INPUT -p udp --dport 9000 -j ACCEPT");
    }
  }

  private static Entry entry(Family f, Role role) {
    boolean v4 = f == Family.V4;
    return new Entry(
        "shop/web",
        f,
        role,
        "test",
        role == Role.Reject ? Optional.empty() : Optional.of("node2"),
        role == Role.Forward ? Optional.of(v4 ? "192.0.2.2" : "2001:db8::2") : Optional.empty(),
        role == Role.Gateway ? Optional.of(v4 ? LB4 : LB6) : Optional.empty(),
        List.of(v4 ? "10.244.1.5" : "fd00:10:244:1::5"));
  }

  private static DesiredPlan plan(Role role) {
    return new DesiredPlan(List.of(entry(Family.V4, role), entry(Family.V6, role)));
  }

  /** Sends 3 UDP datagrams from the pod to the external host, each on a new connection. */
  private void send(Family f) {
    String target =
        f == Family.V4 ? "UDP4-SENDTO:" + EXT4 + ":9000" : "UDP6-SENDTO:[" + EXT6 + "]:9000";
    for (int i = 0; i < 3; i++) {
      pod.run(List.of("sh", "-c", "echo hello | socat -u - " + target));
    }
  }

  /** [packets from the LB IP, packets from anyone else] seen by the external host. */
  private long[] seen(Family f) {
    String save = out(ext, "iptables-nft-save -c".replace("iptables", f.iptables()));
    Matcher m = Pattern.compile("\\[(\\d+):\\d+\\] -A INPUT (-s \\S+ )?-p udp").matcher(save);
    long[] counts = new long[2];
    while (m.find()) {
      counts[m.group(2) == null ? 1 : 0] += Long.parseLong(m.group(1));
    }
    return counts;
  }

  private void resetCounters() {
    sh(ext, "iptables-nft -Z INPUT && ip6tables-nft -Z INPUT");
    sh(n1, "conntrack -F >/dev/null 2>&1 || true");
    sh(n2, "conntrack -F >/dev/null 2>&1 || true");
  }

  @ParameterizedTest(name = "{0} with the CNI masquerade in {1}")
  @MethodSource("cases")
  void externalHostSeesTheLbIpOrNothing(Backend backend, Cni cni) {
    build(backend, cni);
    // without MetalEG the CNI masquerade leaks node 1's address: the setup can tell the difference
    send(Family.V4);
    assertEquals(0, seen(Family.V4)[0]);
    assertEquals(
        3, seen(Family.V4)[1], "baseline: pod traffic reaches the external host masqueraded");

    Dataplane node1 = backend.create(n1, facts);
    Dataplane node2 = backend.create(n2, facts);
    node2.sync(
        new DesiredPlan(List.of(entry(Family.V4, Role.Gateway), entry(Family.V6, Role.Gateway))),
        false);
    node1.sync(plan(Role.Forward), false);
    resetCounters();
    for (Family f : Family.values()) {
      send(f);
      long[] s = seen(f);
      assertEquals(3, s[0], f.label() + ": the external host sees the LB IP");
      assertEquals(0, s[1], f.label() + ": and no other source address");
    }

    node1.sync(plan(Role.Reject), false);
    resetCounters();
    for (Family f : Family.values()) {
      send(f);
      long[] s = seen(f);
      assertEquals(0, s[0] + s[1], f.label() + ": Reject lets nothing out");
    }
    if (backend.nft()) {
      assertEquals(
          List.of("10.244.1.5"),
          new NftReader(n1).table().orElseThrow().elements().get("reject4"),
          "rejected by the nft forward chain");
    } else {
      String rejected = out(n1, backend.iptables().save(Family.V4) + " -c -t filter");
      assertTrue(
          rejected.matches("(?s).*\\[[1-9]\\d*:\\d+\\] -A METALEG-FORWARD -m set .*REJECT.*"),
          rejected);
    }
  }
}
