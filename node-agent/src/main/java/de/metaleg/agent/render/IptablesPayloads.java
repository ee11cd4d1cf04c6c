package de.metaleg.agent.render;

import de.metaleg.agent.model.MarkSpace;
import de.metaleg.agent.render.Rules.MarkRule;
import de.metaleg.agent.render.Rules.RejectRule;
import de.metaleg.agent.render.Rules.SnatRule;
import de.metaleg.common.net.Family;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Pure: the {@code iptables-restore --noflush} payload of each table for one family. Each payload
 * declares MetalEG's chain (which flushes it) and rewrites it completely; built-in chains and other
 * chains are not mentioned, so foreign rules survive. Jumps from built-in chains are not part of
 * the payload (see {@link #JUMPS}).
 */
public final class IptablesPayloads {
  /** A jump from a built-in chain to MetalEG's chain, inserted at position 1. */
  public record Jump(String table, String builtin, String chain) {
    public List<String> ruleSpec() {
      return List.of("-j", chain);
    }
  }

  /** In installation order: filter (reject) before nat (no masquerade) before mangle (marks). */
  public static final List<Jump> JUMPS =
      List.of(
          new Jump("filter", "FORWARD", Names.FILTER_CHAIN),
          new Jump("nat", "POSTROUTING", Names.NAT_CHAIN),
          new Jump("mangle", "PREROUTING", Names.MARK_CHAIN));

  private IptablesPayloads() {}

  /** Table name to payload, in the order filter, nat, mangle. */
  public static Map<String, String> render(DesiredState state, MarkSpace space, Family f) {
    String exclude = Names.excludeSet(f);
    Map<String, String> out = new LinkedHashMap<>();

    StringBuilder filter = header("filter", Names.FILTER_CHAIN);
    String mask = MarkSpace.hex(space.mask());
    String lb = Names.lbSet(f);
    rule(filter, Names.FILTER_CHAIN, "-m conntrack --ctdir REPLY -j RETURN");
    rule(
        filter,
        Names.FILTER_CHAIN,
        "-m mark ! --mark 0x0/"
            + mask
            + " -m conntrack --ctstate SNAT "
            + guard(Guard.MARKED_SNAT)
            + " -j DROP");
    rule(
        filter,
        Names.FILTER_CHAIN,
        "-m set --match-set " + lb + " src " + guard(Guard.LB_SOURCE) + " -j DROP");
    rule(
        filter,
        Names.FILTER_CHAIN,
        "-m set --match-set "
            + lb
            + " dst -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT "
            + guard(Guard.STRAY_REPLY)
            + " -j DROP");
    for (String proto : List.of("-p udp", "-p tcp ! --syn")) {
      rule(
          filter,
          Names.FILTER_CHAIN,
          proto
              + " -m set --match-set "
              + Names.settlingSet(f)
              + " dst -m set ! --match-set "
              + exclude
              + " src -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT "
              + guard(Guard.SETTLING)
              + " -j DROP");
    }
    rule(filter, Names.FILTER_CHAIN, "-m set --match-set " + exclude + " dst -j RETURN");
    rule(
        filter,
        Names.FILTER_CHAIN,
        "-m set --match-set "
            + Names.quarantineSet(f)
            + " src "
            + guard(Guard.QUARANTINE)
            + " -j DROP");
    rule(
        filter,
        Names.FILTER_CHAIN,
        "-m set --match-set "
            + exclude
            + " src -m conntrack --ctstate INVALID "
            + guard(Guard.INVALID)
            + " -j DROP");
    for (SnatRule r : state.snats()) {
      if (r.family() == f) {
        rule(
            filter,
            Names.FILTER_CHAIN,
            "-m set --match-set "
                + r.set()
                + " src -m mark --mark 0x0/"
                + mask
                + " -m conntrack --ctstatus CONFIRMED -m conntrack ! --ctrepldst "
                + r.toSource()
                + " "
                + guard(Guard.UNBOUND, r.service())
                + " -j DROP");
      }
    }
    String unreachable = f == Family.V4 ? "icmp-port-unreachable" : "icmp6-port-unreachable";
    for (String uplink : state.uplinks()) {
      rule(
          filter,
          Names.FILTER_CHAIN,
          "-i "
              + uplink
              + " -o "
              + uplink
              + " -m set --match-set "
              + exclude
              + " src -m set ! --match-set "
              + Names.gatewaySet(f)
              + " src "
              + guard(Guard.TRANSIT)
              + " -j DROP");
    }
    for (RejectRule r : state.rejects()) {
      if (r.family() != f) {
        continue;
      }
      String match = "-m set --match-set " + r.set() + " src " + comment(r.service(), "reject");
      rule(filter, Names.FILTER_CHAIN, "-p tcp " + match + " -j REJECT --reject-with tcp-reset");
      rule(filter, Names.FILTER_CHAIN, match + " -j REJECT --reject-with " + unreachable);
    }
    out.put("filter", filter.append("COMMIT\n").toString());

    StringBuilder nat = header("nat", Names.NAT_CHAIN);
    rule(
        nat,
        Names.NAT_CHAIN,
        "-m mark ! --mark 0x0/"
            + MarkSpace.hex(space.mask())
            + " "
            + comment("rerouted to gateway", "no masquerade")
            + " -j ACCEPT");
    rule(nat, Names.NAT_CHAIN, "-m set --match-set " + exclude + " dst -j RETURN");
    for (SnatRule r : state.snats()) {
      if (r.family() == f) {
        rule(
            nat,
            Names.NAT_CHAIN,
            "-m set --match-set "
                + r.set()
                + " src "
                + comment(r.service(), "gateway")
                + " -j SNAT --to-source "
                + r.toSource());
      }
    }
    out.put("nat", nat.append("COMMIT\n").toString());

    StringBuilder mangle = header("mangle", Names.MARK_CHAIN);
    rule(mangle, Names.MARK_CHAIN, "-m conntrack --ctdir REPLY -j RETURN");
    rule(mangle, Names.MARK_CHAIN, "-m set --match-set " + exclude + " dst -j RETURN");
    for (MarkRule r : state.marks()) {
      if (r.family() == f) {
        rule(
            mangle,
            Names.MARK_CHAIN,
            "-m set --match-set "
                + r.set()
                + " src "
                + comment(r.service(), "forward")
                + " -j MARK --set-xmark "
                + MarkSpace.hex(r.mark())
                + "/"
                + MarkSpace.hex(r.mask()));
      }
    }
    out.put("mangle", mangle.append("COMMIT\n").toString());
    return out;
  }

  /** Number of rules each owned chain holds in a payload (for the canary). */
  public static int ruleCount(String payload) {
    return (int) payload.lines().filter(l -> l.startsWith("-A ")).count();
  }

  /** The owned chain of {@code table}. */
  public static String chainOf(String table) {
    return JUMPS.stream().filter(j -> j.table().equals(table)).findFirst().orElseThrow().chain();
  }

  private static String guard(Guard g, String service) {
    return "-m comment --comment \"" + g.comment() + " " + service + "\"";
  }

  /** The comment that names a guard rule, so its drop counter can be read back per guard. */
  private static String guard(Guard g) {
    return "-m comment --comment \"" + g.comment() + "\"";
  }

  private static StringBuilder header(String table, String chain) {
    return new StringBuilder("*")
        .append(table)
        .append('\n')
        .append(':')
        .append(chain)
        .append(" - [0:0]\n");
  }

  private static void rule(StringBuilder b, String chain, String spec) {
    b.append("-A ").append(chain).append(' ').append(spec).append('\n');
  }

  /** Service names are validated (namespace/name), so they are safe inside quotes. */
  private static String comment(String what, String role) {
    return "-m comment --comment \"metaleg " + role + " " + what + "\"";
  }
}
