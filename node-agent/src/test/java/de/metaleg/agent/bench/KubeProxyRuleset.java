package de.metaleg.agent.bench;

import java.util.Locale;

/**
 * Generates a realistic kube-proxy ruleset for N LoadBalancer Services (2 endpoints each, one TCP
 * port, a node port), for the coexistence tests and the idle-CPU benchmark. Shapes follow
 * kube-proxy 1.29-1.31: iptables mode ({@code KUBE-SERVICES}/{@code KUBE-SVC-*}/{@code KUBE-SEP-*}
 * in nat, {@code KUBE-FORWARD} with its {@code --ctstate INVALID -j DROP} in filter, {@code
 * KUBE-POSTROUTING} masquerading what {@code KUBE-MARK-MASQ} marked, the canary chains in every
 * table) and nftables mode ({@code table ip kube-proxy} with base chains at dstnat - 10, dstnat and
 * srcnat, verdict maps per service and endpoint chains). About 12 iptables rules per Service.
 *
 * <p>Addresses: cluster IPs 10.96.0.0/12 (fd00:96::/108 for IPv6), LB IPs 172.16.0.0/12
 * (fd00:172::/96), endpoints 10.200.0.0/16 (fd00:200::/96): none of them overlaps the tests' pod,
 * node or external ranges.
 *
 * <p>{@code java -cp metaleg-node-agent.jar:node-agent/target/test-classes
 * de.metaleg.agent.bench.KubeProxyRuleset iptables|nft 4|6 N} prints the {@code iptables-restore}
 * or {@code nft -f} payload.
 */
public final class KubeProxyRuleset {
  private KubeProxyRuleset() {}

  /**
   * Services per {@code iptables-restore}: iptables-nft 1.8.9 restores 2,000 Services in ~2 s of
   * CPU, but 10,000 in one payload took 295 s here (it grows much faster than linearly).
   */
  public static final int CHUNK = 2000;

  public static void main(String[] args) {
    if (args.length != 3 && args.length != 4) {
      System.err.println("usage: KubeProxyRuleset iptables|nft 4|6 SERVICES [CHUNK]");
      System.err.println("  iptables: prints chunk CHUNK (0-based) of " + CHUNK + " Services");
      System.exit(2);
    }
    boolean v6 = args[1].equals("6");
    int n = Integer.parseInt(args[2]);
    if (args[0].equals("nft")) {
      System.out.print(nft(v6, n));
    } else if (args.length == 4) {
      System.out.print(iptablesChunks(v6, n).get(Integer.parseInt(args[3])));
    } else {
      System.out.print(String.valueOf(iptablesChunks(v6, n).size()));
    }
  }

  /** {@link #iptablesChunks} as one payload (fine up to a few thousand Services). */
  public static String iptables(boolean v6, int services) {
    return String.join("", iptablesChunks(v6, services));
  }

  /** Hash-like chain suffix, as kube-proxy's base32 of sha256 (16 upper-case characters). */
  static String id(String kind, int i, int j) {
    long h = (kind.hashCode() * 1_000_003L + i) * 1_000_003L + j;
    h ^= (h >>> 29) * 0x9E3779B97F4A7C15L;
    String s = Long.toString(Math.abs(h), 36).toUpperCase(Locale.ROOT);
    return (s + "QWERTYUIOPASDFGH").substring(0, 16);
  }

  static String clusterIp(boolean v6, int i) {
    return v6
        ? "fd00:96::" + Integer.toHexString(i + 1)
        : "10." + (96 + (i >> 16)) + "." + ((i >> 8) & 255) + "." + (i & 255);
  }

  static String lbIp(boolean v6, int i) {
    return v6
        ? "fd00:172::" + Integer.toHexString(i + 1)
        : "172." + (16 + (i >> 16)) + "." + ((i >> 8) & 255) + "." + (i & 255);
  }

  static String endpoint(boolean v6, int i, int j) {
    int k = i * 2 + j;
    return v6
        ? "fd00:200::" + Integer.toHexString(k + 1)
        : "10.200." + ((k >> 8) & 255) + "." + (k & 255);
  }

  /**
   * The {@code iptables-restore --noflush} payloads (nat, filter, mangle) for one family, in order,
   * {@link #CHUNK} Services each; the first one also holds kube-proxy's base chains and jumps.
   */
  public static java.util.List<String> iptablesChunks(boolean v6, int services) {
    java.util.List<String> out = new java.util.ArrayList<>();
    for (int from = 0; from < services || from == 0; from += CHUNK) {
      out.add(iptables(v6, from, Math.min(services, from + CHUNK), services));
    }
    return out;
  }

  private static String iptables(boolean v6, int from, int to, int services) {
    if (from > 0) {
      StringBuilder nat = new StringBuilder("*nat\n");
      StringBuilder natRules = new StringBuilder();
      services(nat, natRules, v6, from, to);
      if (to == services) {
        natRules.append(NODEPORTS_LAST);
      }
      return nat.append(natRules).append("COMMIT\n").toString();
    }
    StringBuilder nat = new StringBuilder("*nat\n");
    for (String c :
        new String[] {
          "KUBE-SERVICES",
          "KUBE-POSTROUTING",
          "KUBE-MARK-MASQ",
          "KUBE-NODEPORTS",
          "KUBE-PROXY-CANARY",
          "KUBE-KUBELET-CANARY"
        }) {
      nat.append(':').append(c).append(" - [0:0]\n");
    }
    StringBuilder natRules = new StringBuilder();
    natRules.append(
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
    natRules.append(
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
    natRules.append(
        "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n");
    natRules.append("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n");
    natRules.append("-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n");
    natRules.append("-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n");
    natRules.append(
        "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\""
            + " -j MASQUERADE --random-fully\n");
    services(nat, natRules, v6, from, to);
    if (to == services) {
      natRules.append(NODEPORTS_LAST);
    }
    nat.append(natRules).append("COMMIT\n");
    return nat.toString() + filter(v6);
  }

  private static final String NODEPORTS_LAST =
      "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be"
          + " the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n";

  private static void services(
      StringBuilder nat, StringBuilder natRules, boolean v6, int from, int to) {
    String pods = v6 ? "fd00:10:244::/48" : "10.244.0.0/16";
    String host = v6 ? "/128" : "/32";
    for (int i = from; i < to; i++) {
      String svc = "bench-" + (i % 50) + "/svc-" + i + ":http";
      String svcChain = "KUBE-SVC-" + id("svc", i, 0);
      String extChain = "KUBE-EXT-" + id("ext", i, 0);
      String cip = clusterIp(v6, i);
      String lb = lbIp(v6, i);
      int nodePort = 30000 + (i % 2700);
      nat.append(':').append(svcChain).append(" - [0:0]\n");
      nat.append(':').append(extChain).append(" - [0:0]\n");
      natRules
          .append("-A KUBE-SERVICES -d ")
          .append(cip)
          .append(host)
          .append(" -p tcp -m comment --comment \"")
          .append(svc)
          .append(" cluster IP\" -m tcp --dport 80 -j ")
          .append(svcChain)
          .append('\n');
      natRules
          .append("-A KUBE-SERVICES -d ")
          .append(lb)
          .append(host)
          .append(" -p tcp -m comment --comment \"")
          .append(svc)
          .append(" loadbalancer IP\" -m tcp --dport 80 -j ")
          .append(extChain)
          .append('\n');
      natRules
          .append("-A KUBE-NODEPORTS -p tcp -m comment --comment \"")
          .append(svc)
          .append("\" -m tcp --dport ")
          .append(nodePort)
          .append(" -j ")
          .append(extChain)
          .append('\n');
      natRules
          .append("-A ")
          .append(extChain)
          .append(" -m comment --comment \"masquerade traffic for ")
          .append(svc)
          .append(" external destinations\" -j KUBE-MARK-MASQ\n");
      natRules.append("-A ").append(extChain).append(" -j ").append(svcChain).append('\n');
      natRules
          .append("-A ")
          .append(svcChain)
          .append(" ! -s ")
          .append(pods)
          .append(" -d ")
          .append(cip)
          .append(host)
          .append(" -p tcp -m comment --comment \"")
          .append(svc)
          .append(" cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n");
      for (int j = 0; j < 2; j++) {
        String sep = "KUBE-SEP-" + id("sep", i, j);
        String ep = endpoint(v6, i, j);
        String epPort = v6 ? "[" + ep + "]:8080" : ep + ":8080";
        nat.append(':').append(sep).append(" - [0:0]\n");
        natRules
            .append("-A ")
            .append(svcChain)
            .append(" -m comment --comment \"")
            .append(svc)
            .append(" -> ")
            .append(epPort)
            .append('"')
            .append(j == 0 ? " -m statistic --mode random --probability 0.50000000000" : "")
            .append(" -j ")
            .append(sep)
            .append('\n');
        natRules
            .append("-A ")
            .append(sep)
            .append(" -s ")
            .append(ep)
            .append(host)
            .append(" -m comment --comment \"")
            .append(svc)
            .append("\" -j KUBE-MARK-MASQ\n");
        natRules
            .append("-A ")
            .append(sep)
            .append(" -p tcp -m comment --comment \"")
            .append(svc)
            .append("\" -m tcp -j DNAT --to-destination ")
            .append(epPort)
            .append('\n');
      }
    }
  }

  private static String filter(boolean v6) {
    StringBuilder filter = new StringBuilder("*filter\n");
    for (String c :
        new String[] {
          "KUBE-FORWARD",
          "KUBE-SERVICES",
          "KUBE-EXTERNAL-SERVICES",
          "KUBE-NODEPORTS",
          "KUBE-PROXY-FIREWALL",
          "KUBE-FIREWALL",
          "KUBE-PROXY-CANARY",
          "KUBE-KUBELET-CANARY"
        }) {
      filter.append(':').append(c).append(" - [0:0]\n");
    }
    filter.append(
        "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer"
            + " firewall\" -j KUBE-PROXY-FIREWALL\n");
    filter.append(
        "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j"
            + " KUBE-NODEPORTS\n");
    filter.append(
        "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible"
            + " service portals\" -j KUBE-EXTERNAL-SERVICES\n");
    filter.append("-A INPUT -j KUBE-FIREWALL\n");
    filter.append(
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer"
            + " firewall\" -j KUBE-PROXY-FIREWALL\n");
    filter.append(
        "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n");
    filter.append(
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\""
            + " -j KUBE-SERVICES\n");
    filter.append(
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible"
            + " service portals\" -j KUBE-EXTERNAL-SERVICES\n");
    filter.append(
        "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer"
            + " firewall\" -j KUBE-PROXY-FIREWALL\n");
    filter.append("-A OUTPUT -j KUBE-FIREWALL\n");
    filter.append("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n");
    filter.append(
        "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark"
            + " 0x4000/0x4000 -j ACCEPT\n");
    filter.append(
        "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack"
            + " --ctstate RELATED,ESTABLISHED -j ACCEPT\n");
    if (!v6) {
      filter.append(
          "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming"
              + " localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j"
              + " DROP\n");
    }
    filter.append("COMMIT\n");

    String mangle =
        "*mangle\n:KUBE-PROXY-CANARY - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\n"
            + ":KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n";
    return filter.toString() + mangle;
  }

  /**
   * The {@code nft -f} payload of kube-proxy's nftables mode for one family: {@code table ip
   * kube-proxy} (or {@code ip6}), base chains at the hooks and priorities kube-proxy uses.
   */
  public static String nft(boolean v6, int services) {
    String fam = v6 ? "ip6" : "ip";
    String addr = v6 ? "ipv6_addr" : "ipv4_addr";
    String t = fam + " kube-proxy";
    StringBuilder b = new StringBuilder();
    b.append("add table ").append(t).append(" { comment \"rules for kube-proxy\" ; }\n");
    b.append("flush table ").append(t).append('\n');
    String[][] base = {
      {"filter-prerouting", "filter", "prerouting", "-110"},
      {"filter-input", "filter", "input", "-110"},
      {"filter-forward", "filter", "forward", "-110"},
      {"filter-output", "filter", "output", "-110"},
      {"filter-output-post-dnat", "filter", "output", "-90"},
      {"nat-prerouting", "nat", "prerouting", "-100"},
      {"nat-output", "nat", "output", "-100"},
      {"nat-postrouting", "nat", "postrouting", "100"},
    };
    for (String[] c : base) {
      b.append("add chain ")
          .append(t)
          .append(' ')
          .append(c[0])
          .append(" { type ")
          .append(c[1])
          .append(" hook ")
          .append(c[2])
          .append(" priority ")
          .append(c[3])
          .append(" ; }\n");
    }
    for (String c :
        new String[] {
          "services",
          "service-endpoints-check",
          "nodeport-endpoints-check",
          "firewall-check",
          "masquerading",
          "mark-for-masquerade",
          "reject-chain",
          "cluster-ips-check",
          "nodeports"
        }) {
      b.append("add chain ").append(t).append(' ').append(c).append('\n');
    }
    b.append("add set ")
        .append(t)
        .append(" cluster-ips { type ")
        .append(addr)
        .append(" ; comment \"Active ClusterIPs\" ; }\n");
    b.append("add map ")
        .append(t)
        .append(" service-ips { type ")
        .append(addr)
        .append(" . inet_proto . inet_service : verdict ; comment \"ClusterIP, ExternalIP and")
        .append(" LoadBalancer IP traffic\" ; }\n");
    b.append("add map ")
        .append(t)
        .append(" service-nodeports { type inet_proto . inet_service : verdict ; }\n");
    b.append("add map ")
        .append(t)
        .append(" no-endpoint-services { type ")
        .append(addr)
        .append(" . inet_proto . inet_service : verdict ; }\n");
    String daddr = fam + " daddr";
    String saddr = fam + " saddr";
    rule(b, t, "filter-prerouting", "ct state new jump firewall-check");
    rule(b, t, "filter-input", "ct state new jump nodeport-endpoints-check");
    rule(b, t, "filter-input", "ct state new jump service-endpoints-check");
    rule(b, t, "filter-forward", "ct state new jump service-endpoints-check");
    rule(b, t, "filter-forward", "ct state new jump cluster-ips-check");
    rule(b, t, "filter-output", "ct state new jump service-endpoints-check");
    rule(b, t, "filter-output-post-dnat", "ct state new jump cluster-ips-check");
    rule(b, t, "nat-prerouting", "jump services");
    rule(b, t, "nat-output", "jump services");
    rule(b, t, "nat-postrouting", "jump masquerading");
    rule(b, t, "masquerading", "meta mark & 0x00004000 == 0 return");
    rule(b, t, "masquerading", "meta mark set meta mark ^ 0x00004000");
    rule(b, t, "masquerading", "masquerade fully-random");
    rule(b, t, "mark-for-masquerade", "meta mark set meta mark | 0x00004000");
    rule(b, t, "reject-chain", "reject");
    rule(
        b,
        t,
        "service-endpoints-check",
        daddr + " . meta l4proto . th dport vmap @no-endpoint-services");
    rule(b, t, "cluster-ips-check", daddr + " @cluster-ips reject");
    rule(b, t, "services", daddr + " . meta l4proto . th dport vmap @service-ips");
    rule(b, t, "services", "fib daddr type local jump nodeports");
    rule(b, t, "nodeports", "meta l4proto . th dport vmap @service-nodeports");
    String pods = v6 ? "fd00:10:244::/48" : "10.244.0.0/16";
    for (int i = 0; i < services; i++) {
      String name = "bench-" + (i % 50) + "/svc-" + i + "/tcp/http";
      String svcChain = "service-" + id("svc", i, 0) + "-" + name;
      String extChain = "external-" + id("ext", i, 0) + "-" + name;
      b.append("add chain ").append(t).append(" ").append(svcChain).append('\n');
      b.append("add chain ").append(t).append(" ").append(extChain).append('\n');
      StringBuilder vmap = new StringBuilder("numgen random mod 2 vmap { ");
      for (int j = 0; j < 2; j++) {
        String ep = endpoint(v6, i, j);
        // nft identifiers cannot hold ':', so IPv6 endpoint chains carry the address with '.'
        String epChain =
            "endpoint-" + id("sep", i, j) + "-" + name + "__" + ep.replace(':', '.') + "/8080";
        b.append("add chain ").append(t).append(" ").append(epChain).append('\n');
        rule(b, t, epChain, saddr + " " + ep + " jump mark-for-masquerade");
        rule(b, t, epChain, "meta l4proto tcp dnat to " + (v6 ? "[" + ep + "]" : ep) + ":8080");
        vmap.append(j).append(" : goto ").append(epChain).append(j == 0 ? " , " : " }");
      }
      rule(
          b,
          t,
          svcChain,
          daddr
              + " "
              + clusterIp(v6, i)
              + " "
              + saddr
              + " != "
              + pods
              + " jump mark-for-masquerade");
      rule(b, t, svcChain, vmap.toString());
      rule(b, t, extChain, "jump mark-for-masquerade");
      rule(b, t, extChain, "goto " + svcChain);
      b.append("add element ")
          .append(t)
          .append(" cluster-ips { ")
          .append(clusterIp(v6, i))
          .append(" }\n");
      b.append("add element ")
          .append(t)
          .append(" service-ips { ")
          .append(clusterIp(v6, i))
          .append(" . tcp . 80 : goto ")
          .append(svcChain)
          .append(" }\n");
      b.append("add element ")
          .append(t)
          .append(" service-ips { ")
          .append(lbIp(v6, i))
          .append(" . tcp . 80 : goto ")
          .append(extChain)
          .append(" }\n");
      b.append("add element ")
          .append(t)
          .append(" service-nodeports { tcp . ")
          .append(30000 + i % 30000)
          .append(" : goto ")
          .append(extChain)
          .append(" }\n");
    }
    return b.toString();
  }

  private static void rule(StringBuilder b, String table, String chain, String rule) {
    b.append("add rule ").append(table).append(' ').append(chain).append(' ').append(rule);
    b.append('\n');
  }
}
