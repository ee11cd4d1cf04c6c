package de.metaleg.agent.kernel;

import static de.metaleg.agent.kernel.DataplaneKernelIT.forward;
import static de.metaleg.agent.kernel.DataplaneKernelIT.gateway;
import static de.metaleg.agent.kernel.DataplaneKernelIT.reject;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Order of the transactions, with a fake runner that records every command (kube-proxy's
 * FakeIPTables style): routes before the marks that need them, marks removed before their routes,
 * sets before the rules that use them and destroyed after, no exec per rule.
 */
class IptablesDataplaneOrderTest {
  record Call(String argv, String stdin) {}

  static class Recorder implements CommandRunner {
    final List<Call> calls = Collections.synchronizedList(new ArrayList<>());

    @Override
    public Result run(List<String> argv, String stdin) {
      calls.add(new Call(String.join(" ", argv), stdin == null ? "" : stdin));
      return new Result(0, "", "");
    }

    int indexOf(String argvPrefix, String stdinPart) {
      synchronized (calls) {
        for (int i = 0; i < calls.size(); i++) {
          if (calls.get(i).argv().startsWith(argvPrefix)
              && calls.get(i).stdin().contains(stdinPart)) {
            return i;
          }
        }
      }
      return -1;
    }
  }

  private final NodeFacts facts;

  IptablesDataplaneOrderTest() {
    AgentConfig c = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    facts = new NodeFacts(c.markSpace(), c.excludeDestinations());
  }

  @Test
  void routesBeforeMarksAndMarksRemovedBeforeRoutes() {
    Recorder r = new Recorder();
    IptablesDataplane dp = new IptablesDataplane(r, IptablesFlavor.NFT, facts);
    dp.sync(
        new DesiredPlan(
            List.of(forward("shop/web", Family.V4, "node-b", "192.0.2.2", "10.244.1.5"))),
        false);

    int sets = r.indexOf("ipset restore", "create metaleg-src4-");
    int route =
        r.indexOf("ip -4 -force -batch -", "route replace default via 192.0.2.2 table 100001");
    int marks = r.indexOf("iptables-nft-restore -w 5 --noflush", "--set-xmark 0x100000/0xf00000");
    // the jumps: one restore, after the chains they jump to
    int jump = r.indexOf("iptables-nft-restore -w 5 --noflush", "-I PREROUTING 1 -j METALEG-MARK");
    assertTrue(sets >= 0 && route > sets && marks > route && jump > marks, r.calls.toString());
    String jumps = r.calls.get(jump).stdin();
    int filterJump = jumps.indexOf("-I FORWARD 1 -j METALEG-FORWARD");
    int natJump = jumps.indexOf("-I POSTROUTING 1 -j METALEG-POSTROUTING");
    assertTrue(
        filterJump >= 0 && filterJump < natJump && natJump < jumps.indexOf("-I PREROUTING 1"),
        "reject and no-masquerade hooked before marks: " + jumps);

    // gateway moves to node-c while node-b's index is still in use by shop/api
    r.calls.clear();
    dp.sync(
        new DesiredPlan(
            List.of(
                forward("shop/web", Family.V4, "node-c", "192.0.2.3", "10.244.1.5"),
                forward("shop/api", Family.V4, "node-b", "192.0.2.2", "10.244.1.6"))),
        false);
    r.calls.clear();
    dp.sync(new DesiredPlan(List.of(reject("shop/web", Family.V4, "10.244.1.5"))), false);
    int rules = r.indexOf("iptables-nft-restore -w 5 --noflush", "REJECT");
    int removeRoutes = r.indexOf("ip -4 -force -batch -", "route flush table 100001");
    int removeRule =
        r.indexOf("ip -4 -force -batch -", "rule del fwmark 0x100000/0xf00000 table 100001");
    int destroy =
        r.indexOf(
            "ipset restore",
            "destroy " + de.metaleg.agent.render.Names.sourceSet("shop/api", Family.V4));
    assertTrue(
        rules >= 0 && removeRule > rules && removeRoutes > rules && destroy > rules,
        r.calls.toString());
    assertTrue(r.calls.size() <= 6, "a handful of transactions, no exec per rule: " + r.calls);
  }

  /** A fake ipset: applies restore payloads, answers {@code ipset list -t} with the counts. */
  static class FakeIpset extends Recorder {
    final Map<String, Set<String>> sets = new TreeMap<>();

    @Override
    public Result run(List<String> argv, String stdin) {
      super.run(argv, stdin);
      if (String.join(" ", argv).equals("ipset restore")) {
        stdin.lines().map(l -> l.split(" ")).forEach(this::apply);
      } else if (String.join(" ", argv).equals("ipset list -t")) {
        StringBuilder out = new StringBuilder();
        sets.forEach(
            (name, members) ->
                out.append("Name: ")
                    .append(name)
                    .append("\nType: hash:ip\nNumber of entries: ")
                    .append(members.size())
                    .append("\n\n"));
        return new Result(0, out.toString(), "");
      } else if (argv.get(0).equals("ip") && argv.contains("-j")) {
        return new Result(0, "[]\n".repeat((int) stdin.lines().count()), "");
      }
      return new Result(0, "", "");
    }

    private void apply(String[] line) {
      switch (line[0]) {
        case "create" -> sets.putIfAbsent(line[1], new LinkedHashSet<>());
        case "add" -> sets.get(line[1]).add(line[2]);
        case "del" -> sets.get(line[1]).remove(line[2]);
        case "flush" -> sets.get(line[1]).clear();
        case "destroy" -> sets.remove(line[1]);
        case "swap" -> {
          Set<String> a = sets.get(line[1]);
          sets.put(line[1], sets.get(line[2]));
          sets.put(line[2], a);
        }
        default -> throw new IllegalArgumentException(String.join(" ", line));
      }
    }
  }

  @Test
  void theCanaryComparesSetSizesAndReadsNoChainWhileNothingChanged() {
    FakeIpset r = new FakeIpset();
    boolean[] changed = {false};
    IptablesDataplane dp = new IptablesDataplane(r, IptablesFlavor.NFT, facts, () -> changed[0]);
    String[] sources = new String[300]; // more members than Java caches boxed Integers for
    for (int i = 0; i < sources.length; i++) {
      sources[i] = "10.244." + (1 + i / 250) + "." + (1 + i % 250);
    }
    dp.sync(
        new DesiredPlan(List.of(gateway("shop/api", Family.V4, "198.51.100.10", sources))), false);
    r.calls.clear();
    assertEquals(Optional.empty(), dp.drift());
    assertTrue(r.calls.stream().noneMatch(c -> c.argv().contains(" -S ")), r.calls.toString());
    assertTrue(r.indexOf("ipset list -t", "") >= 0, r.calls.toString());

    String set = de.metaleg.agent.render.Names.sourceSet("shop/api", Family.V4);
    r.sets.get(set).remove(sources[7]);
    assertEquals(
        Optional.of("ipset " + set + " has 299 members, want 300"), dp.drift(), "one member gone");
  }

  @Test
  void aRouteBatchThatFailsWithoutNamingALineStopsBeforeAnyMark() {
    Recorder r =
        new Recorder() {
          @Override
          public Result run(List<String> argv, String stdin) {
            super.run(argv, stdin);
            return argv.get(0).equals("ip") && argv.contains("-batch")
                ? new Result(127, "", "cannot run ip: No such file or directory")
                : new Result(0, "", "");
          }
        };
    IptablesDataplane dp = new IptablesDataplane(r, IptablesFlavor.NFT, facts);
    DataplaneException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            DataplaneException.class,
            () ->
                dp.sync(
                    new DesiredPlan(
                        List.of(
                            forward("shop/web", Family.V4, "node-b", "192.0.2.2", "10.244.1.5"))),
                    false));
    assertTrue(e.getMessage().contains("No such file"), e.getMessage());
    assertEquals(
        -1, r.indexOf("iptables-nft-restore", ""), "no firewall rules after a failed route step");
  }

  @Test
  void anExistingRuleIsFineAFailedRouteRejects() {
    Recorder r =
        new Recorder() {
          @Override
          public Result run(List<String> argv, String stdin) {
            super.run(argv, stdin);
            if (argv.contains("-batch") && stdin.contains("192.0.2.2")) {
              // line 1 (route via node-b) ok, line 3 (node-b's rule) exists already;
              // line 2 (route via 203.0.113.9, node-x) fails
              return new Result(
                  1,
                  "",
                  "Error: Nexthop has invalid gateway.\nCommand failed -:2\n"
                      + "RTNETLINK answers: File exists\nCommand failed -:3\n");
            }
            return new Result(0, "", "");
          }
        };
    IptablesDataplane dp = new IptablesDataplane(r, IptablesFlavor.NFT, facts);
    var result =
        dp.sync(
            new DesiredPlan(
                List.of(
                    forward("shop/web", Family.V4, "node-b", "192.0.2.2", "10.244.1.5"),
                    forward("shop/x", Family.V4, "node-x", "203.0.113.9", "10.244.1.6"))),
            false);
    assertEquals(1, result.state().marks().size(), result.state().toString());
    assertEquals("shop/web", result.state().marks().get(0).service());
    assertEquals("shop/x", result.state().rejects().get(0).service());
    assertEquals(1, result.warnings().size(), result.warnings().toString());
    assertTrue(
        result.warnings().get(0).contains("Nexthop has invalid gateway"),
        result.warnings().toString());
  }

  @Test
  void unchangedPlanRunsNothingIncrementally() {
    Recorder r = new Recorder();
    IptablesDataplane dp = new IptablesDataplane(r, IptablesFlavor.LEGACY, facts);
    DesiredPlan plan =
        new DesiredPlan(
            List.of(forward("shop/web", Family.V6, "node-b", "2001:db8::2", "fd00:10:244:1::5")));
    dp.sync(plan, false);
    r.calls.clear();
    dp.sync(plan, false);
    assertEquals(List.of(), r.calls);
  }
}
