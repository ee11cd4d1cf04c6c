package de.metaleg.agent.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.model.MarkSpace;
import de.metaleg.agent.render.ObservedRoutes;
import de.metaleg.agent.render.ObservedSet;
import de.metaleg.agent.render.Rules.PolicyRule;
import de.metaleg.common.net.Family;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Pure parsing of tool output, flavour detection and error messages, with a fake runner. */
class KernelParsingTest {
  private static final MarkSpace SPACE = new MarkSpace(0x00F00000L, 100000);

  /** Answers by the command's first word; records nothing else. */
  record FakeRunner(Map<String, String> stdoutByCommand) implements CommandRunner {
    @Override
    public Result run(List<String> argv, String stdin) {
      return new Result(0, stdoutByCommand.getOrDefault(String.join(" ", argv), ""), "");
    }
  }

  @Test
  void parsesOnlyOwnedSets() {
    String save =
        """
        create foreign hash:ip family inet hashsize 1024 maxelem 65536
        add foreign 10.0.0.1
        create metaleg-src4-abc hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1
        add metaleg-src4-abc 10.244.1.6
        add metaleg-src4-abc 10.244.1.5
        create metaleg-excl6 hash:net family inet6 hashsize 1024 maxelem 65536
        add metaleg-excl6 fc00::/7
        """;
    Map<String, ObservedSet> sets = KernelReader.parseIpsetSave(save);
    assertEquals(2, sets.size());
    assertEquals(List.of("10.244.1.5", "10.244.1.6"), sets.get("metaleg-src4-abc").members());
    assertEquals(Family.V6, sets.get("metaleg-excl6").family());
    assertEquals("hash:net", sets.get("metaleg-excl6").type());
  }

  @Test
  void parsesOwnedRulesAndTablesOnly() {
    String rules =
        """
        0:\tfrom all lookup local
        10000:\tfrom all fwmark 0x100000/0xf00000 lookup 100001
        10000:\tfrom all fwmark 0x1 lookup 300
        20000:\tfrom all fwmark 0x200000/0xf00000 lookup 100002
        10000:\tfrom all fwmark 0x300000/0xf00000 lookup 100003 proto static
        32766:\tfrom all lookup main
        """;
    String routes =
        """
        default via 192.0.2.2 dev eth0 table 100001
        default via 192.0.2.254 dev eth0 table 300
        192.0.2.0/24 dev eth0 table 100003 proto kernel scope link
        default via 192.0.2.254 dev eth0
        """;
    ObservedRoutes r = KernelReader.parseRoutes(Family.V4, SPACE, rules, routes);
    assertEquals(
        List.of(
            new PolicyRule(Family.V4, 0x100000, 0xf00000, 100001, 10000),
            new PolicyRule(Family.V4, 0x300000, 0xf00000, 100003, 10000)),
        r.rules());
    assertEquals(Map.of(100001L, "192.0.2.2"), r.defaultGateways());
    assertEquals(java.util.Set.of(100001L, 100003L), r.tables());
  }

  @Test
  void parsesOwnedRulesFromJson() {
    // ip -j -4 rule show (iproute2 6.1): other priorities, tables outside the range and rules with
    // other selectors are not ours
    String json =
        "[{\"priority\":0,\"src\":\"all\",\"table\":\"local\"},"
            + "{\"priority\":10000,\"src\":\"all\",\"fwmark\":\"0x100000\",\"fwmask\":\"0xf00000\",\"table\":\"100001\"},"
            + "{\"priority\":10000,\"src\":\"10.0.0.0\",\"srclen\":8,\"fwmark\":\"0x200000\",\"fwmask\":\"0xf00000\",\"table\":\"100002\"},"
            + "{\"priority\":9000,\"src\":\"all\",\"fwmark\":\"0x300000\",\"fwmask\":\"0xf00000\",\"table\":\"100003\"},"
            + "{\"priority\":10000,\"src\":\"all\",\"fwmark\":\"0x100000\",\"fwmask\":\"0xf00000\",\"table\":\"200\"},"
            + "{\"priority\":10000,\"src\":\"all\",\"fwmark\":\"0xf00000\",\"fwmask\":\"0xf00000\",\"table\":\"100015\"},"
            + "{\"priority\":32766,\"src\":\"all\",\"table\":\"main\"}]";
    assertEquals(
        List.of(
            new PolicyRule(Family.V4, 0x100000, 0xf00000, 100001, 10000),
            new PolicyRule(Family.V4, 0xf00000, 0xf00000, 100015, 10000)),
        KernelReader.parseJsonRules(Family.V4, SPACE, json));
  }

  @Test
  void countsOwnedChainRulesAndJumps() {
    String save =
        """
        *mangle
        :PREROUTING ACCEPT [0:0]
        :METALEG-MARK - [0:0]
        -A PREROUTING -p udp -j MARK --set-xmark 0x1/0xffffffff
        -A PREROUTING -j METALEG-MARK
        -A METALEG-MARK -m conntrack --ctdir REPLY -j RETURN
        -A METALEG-MARK -m set --match-set metaleg-excl4 dst -j RETURN
        COMMIT
        *nat
        :METALEG-POSTROUTING - [0:0]
        COMMIT
        """;
    KernelReader.ObservedFirewall fw = KernelReader.parseIptablesSave(Family.V4, save);
    assertEquals(
        Map.of("mangle/METALEG-MARK", 2, "nat/METALEG-POSTROUTING", 0), fw.chainRuleCounts());
    assertEquals(java.util.Set.of("mangle"), fw.tablesWithJump());
    // a foreign rule comes first: the jump is at position 2, which the canary reports
    assertEquals(java.util.Map.of("mangle", 2), fw.jumpPositions());
    assertEquals(
        """
        *mangle
        -D PREROUTING -j METALEG-MARK
        :METALEG-MARK - [0:0]
        -X METALEG-MARK
        COMMIT
        *nat
        :METALEG-POSTROUTING - [0:0]
        -X METALEG-POSTROUTING
        COMMIT
        """,
        Cleanup.removalPayload(save));
  }

  @Test
  void detectsTheFlavourTheNodeUses() {
    String legacyRules = "*filter\n-A FORWARD -j KUBE-FORWARD\n".repeat(3);
    assertEquals(
        IptablesFlavor.NFT, IptablesFlavor.detect(new FakeRunner(Map.of())), "empty node: nft");
    assertEquals(
        IptablesFlavor.LEGACY,
        IptablesFlavor.detect(new FakeRunner(Map.of("iptables-legacy-save", legacyRules))),
        "more legacy rules: legacy");
    assertEquals(
        IptablesFlavor.NFT,
        IptablesFlavor.detect(
            new FakeRunner(
                Map.of(
                    "iptables-legacy-save",
                    legacyRules,
                    "ip6tables-nft-save",
                    "*mangle\n:KUBE-IPTABLES-HINT - [0:0]\n"))),
        "kubelet's hint chain wins over rule counts");
  }

  @Test
  void errorsQuoteTheFailingLineAndTheEquivalentCommand() {
    String payload =
        "*nat\n:METALEG-POSTROUTING - [0:0]\n-A METALEG-POSTROUTING -m set --match-set nope src -j RETURN\nCOMMIT\n";
    CommandRunner.Result r =
        new CommandRunner.Result(
            2,
            "",
            "iptables-nft-restore v1.8.9 (nf_tables): Set nope doesn't exist.\n\nError occurred at line: 3\n");
    String msg =
        DataplaneException.of(
                List.of("iptables-nft-restore", "--noflush"), r, payload, "iptables-nft")
            .getMessage();
    assertTrue(
        msg.contains(
            "failing line: `-A METALEG-POSTROUTING -m set --match-set nope src -j RETURN`"),
        msg);
    assertTrue(
        msg.contains("equivalent command: `iptables-nft -t nat -A METALEG-POSTROUTING"), msg);
    CommandRunner.Result ipset =
        new CommandRunner.Result(
            1, "", "ipset v7.17: Error in line 2: The set with the given name does not exist\n");
    String m2 =
        DataplaneException.of(
                List.of("ipset", "restore"), ipset, "create a hash:ip\nadd b 1.2.3.4\n", "ipset")
            .getMessage();
    assertTrue(m2.contains("equivalent command: `ipset add b 1.2.3.4`"), m2);
  }
}
