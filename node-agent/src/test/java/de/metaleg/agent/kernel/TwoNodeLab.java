package de.metaleg.agent.kernel;

import static de.metaleg.agent.kernel.KernelTestSupport.sh;

import java.util.List;
import java.util.function.Consumer;

/**
 * Two node namespaces on a bridge, a pod behind node 1, an external host; both nodes route the pod
 * CIDR and carry a CNI-style masquerade (given by the caller), so a leak shows up as a pod or node
 * address at the external host.
 *
 * <pre>
 *  pod 10.244.1.5 / fd00:10:244:1::5
 *   | veth (10.244.1.1 / fd00:10:244:1::1)
 *  node1 192.0.2.1 / 2001:db8::1 ---+
 *  node2 192.0.2.2 / 2001:db8::2 ---+-- bridge (namespace ...-lan)
 *  ext   192.0.2.254 / 2001:db8::fe +   with 203.0.113.10 / 2001:db8:ff::10 on lo,
 *                                       LB IPs 198.51.100.10 / 2001:db8:100::10 routed to node2
 * </pre>
 */
record TwoNodeLab(
    ProcessRunner lan, ProcessRunner n1, ProcessRunner n2, ProcessRunner pod, ProcessRunner ext) {
  static final String POD4 = "10.244.1.5";
  static final String POD6 = "fd00:10:244:1::5";
  static final String EXT4 = "203.0.113.10";
  static final String EXT6 = "2001:db8:ff::10";
  static final String LB4 = "198.51.100.10";
  static final String LB6 = "2001:db8:100::10";

  /** A CNI-style masquerade of the pod CIDRs (iptables-nft) on a node. */
  static final Consumer<ProcessRunner> CNI_MASQUERADE =
      node -> {
        sh(
            node,
            "iptables-nft -t nat -A POSTROUTING -s 10.244.0.0/16 ! -d 10.244.0.0/16 -j MASQUERADE");
        sh(
            node,
            "ip6tables-nft -t nat -A POSTROUTING -s fd00:10:244::/48 ! -d fd00:10:244::/48 -j"
                + " MASQUERADE");
      };

  static TwoNodeLab build(
      KernelTestSupport kernel, String prefix, String tag, Consumer<ProcessRunner> masquerade) {
    ProcessRunner lan = kernel.namespace(prefix, tag + "-lan");
    ProcessRunner n1 = kernel.namespace(prefix, tag + "-n1");
    ProcessRunner n2 = kernel.namespace(prefix, tag + "-n2");
    ProcessRunner pod = kernel.namespace(prefix, tag + "-pod");
    ProcessRunner ext = kernel.namespace(prefix, tag + "-ext");
    sh(lan, "ip link add br0 type bridge && ip link set br0 up");
    String[][] members = {
      {"n1", nsName(n1), "192.0.2.1", "2001:db8::1"},
      {"n2", nsName(n2), "192.0.2.2", "2001:db8::2"},
      {"ext", nsName(ext), "192.0.2.254", "2001:db8::fe"}
    };
    for (String[] m : members) {
      sh(lan, "ip link add " + m[0] + " type veth peer name eth0 netns " + m[1]);
      sh(lan, "ip link set " + m[0] + " master br0 up");
      ProcessRunner r = ProcessRunner.inNamespace(m[1]);
      sh(
          r,
          "ip link set eth0 up && ip addr add "
              + m[2]
              + "/24 dev eth0 && ip addr add "
              + m[3]
              + "/64 dev eth0 nodad");
      sh(r, "sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0");
    }
    for (ProcessRunner node : List.of(n1, n2)) {
      sh(node, "ip route add default via 192.0.2.254 && ip -6 route add default via 2001:db8::fe");
      masquerade.accept(node);
    }
    sh(n1, "ip link add veth-pod type veth peer name eth0 netns " + nsName(pod));
    sh(
        n1,
        "ip link set veth-pod up && ip addr add 10.244.1.1/24 dev veth-pod && ip addr add fd00:10:244:1::1/64 dev veth-pod nodad");
    sh(
        pod,
        "ip link set eth0 up && ip addr add 10.244.1.5/24 dev eth0 && ip addr add fd00:10:244:1::5/64 dev eth0 nodad");
    sh(pod, "ip route add default via 10.244.1.1 && ip -6 route add default via fd00:10:244:1::1");
    sh(
        n2,
        "ip route add 10.244.1.0/24 via 192.0.2.1 && ip -6 route add fd00:10:244:1::/64 via 2001:db8::1");
    sh(ext, "ip addr add " + EXT4 + "/32 dev lo && ip addr add " + EXT6 + "/128 dev lo nodad");
    TwoNodeLab lab = new TwoNodeLab(lan, n1, n2, pod, ext);
    lab.announce("192.0.2.2", "2001:db8::2");
    return lab;
  }

  /** Routes the LB IPs to a node, as MetalLB's gratuitous ARP/NA does for the router. */
  void announce(String nodeV4, String nodeV6) {
    sh(
        ext,
        "ip route replace "
            + LB4
            + "/32 via "
            + nodeV4
            + " && ip -6 route replace "
            + LB6
            + "/128 via "
            + nodeV6);
  }

  static String nsName(ProcessRunner r) {
    return r.prefix().get(3);
  }
}
