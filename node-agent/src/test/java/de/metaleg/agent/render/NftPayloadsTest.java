package de.metaleg.agent.render;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.model.MarkSpace;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The nftables payloads beyond the golden files: incremental transactions, sources shared by
 * several entries. Pods 10.244.1.x, gateways 192.0.2.x, LB IPs 198.51.100.x.
 */
class NftPayloadsTest {
  private final NodeFacts facts;
  private final MarkSpace space;

  NftPayloadsTest() {
    AgentConfig c = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    facts = new NodeFacts(c.markSpace(), c.excludeDestinations());
    space = c.markSpace();
  }

  private static Entry entry(String service, Role role, String gwNode, String... sources) {
    return new Entry(
        service,
        Family.V4,
        role,
        "test",
        Optional.ofNullable(gwNode),
        role == Role.Forward ? Optional.of("192.0.2." + gwNode.substring(5)) : Optional.empty(),
        role == Role.Gateway ? Optional.of("198.51.100." + gwNode.substring(5)) : Optional.empty(),
        List.of(sources));
  }

  private DesiredState render(Map<String, Integer> allocation, Entry... entries) {
    return DataplaneRenderer.render(new DesiredPlan(List.of(entries)), facts, allocation, Set.of());
  }

  private String incremental(DesiredState before, DesiredState after) {
    Set<String> changed = NftPayloads.changedSources(before, after);
    return NftPayloads.incremental(
        NftPayloads.state(before, space, changed), NftPayloads.state(after, space, changed), space);
  }

  @Test
  void oneAddedSourceIsOneElement() {
    Map<String, Integer> alloc = Map.of("node-2", 1);
    DesiredState before = render(alloc, entry("shop/web", Role.Forward, "node-2", "10.244.1.5"));
    DesiredState after =
        render(alloc, entry("shop/web", Role.Forward, "node-2", "10.244.1.5", "10.244.1.6"));
    assertEquals(
        "add element inet metaleg mark4 { 10.244.1.6 : goto mark-1 }\n",
        incremental(before, after));
    assertEquals("", incremental(after, after), "nothing changed, nothing sent");
  }

  @Test
  void gatewayMoveAddsTheNewMarkChainAndDeletesTheOldOneAfterItsElements() {
    DesiredState before =
        render(Map.of("node-2", 1), entry("shop/web", Role.Forward, "node-2", "10.244.1.5"));
    DesiredState after =
        render(Map.of("node-3", 2), entry("shop/web", Role.Forward, "node-3", "10.244.1.5"));
    assertEquals(
        """
        add chain inet metaleg mark-2
        add rule inet metaleg mark-2 meta mark set meta mark & 0xff0fffff | 0x00200000
        delete element inet metaleg mark4 { 10.244.1.5 }
        add element inet metaleg mark4 { 10.244.1.5 : goto mark-2 }
        flush chain inet metaleg mark-1
        delete chain inet metaleg mark-1
        """,
        incremental(before, after));
  }

  @Test
  void switchToRejectMovesEverySourceOfTheEntry() {
    Map<String, Integer> alloc = Map.of("node-2", 1);
    DesiredState before =
        render(
            alloc,
            entry("shop/web", Role.Forward, "node-2", "10.244.1.5", "10.244.1.6"),
            entry("shop/api", Role.Gateway, "node-1", "10.244.1.7"));
    DesiredState after =
        render(
            Map.of(),
            entry("shop/web", Role.Reject, null, "10.244.1.5", "10.244.1.6"),
            entry("shop/api", Role.Gateway, "node-1", "10.244.1.7"));
    assertEquals(Set.of("10.244.1.5", "10.244.1.6"), NftPayloads.changedSources(before, after));
    assertEquals(
        """
        add element inet metaleg reject4 { 10.244.1.5, 10.244.1.6 }
        delete element inet metaleg mark4 { 10.244.1.5, 10.244.1.6 }
        flush chain inet metaleg mark-1
        delete chain inet metaleg mark-1
        """,
        incremental(before, after));
  }

  @Test
  void sharedSourcesFollowTheIptablesBackend() {
    DesiredState s =
        render(
            Map.of("node-2", 1, "node-3", 2),
            entry("shop/a", Role.Forward, "node-2", "10.244.1.5"),
            entry("shop/b", Role.Forward, "node-3", "10.244.1.5"),
            entry("shop/c", Role.Gateway, "node-4", "10.244.1.6"),
            entry("shop/d", Role.Gateway, "node-5", "10.244.1.6"));
    NftState nft = NftPayloads.state(s, space);
    assertEquals(Map.of("10.244.1.5", "goto mark-2"), nft.maps().get("mark4"), "last MARK wins");
    assertEquals(Map.of("10.244.1.6", "198.51.100.4"), nft.maps().get("snat4"), "first SNAT wins");
    String full = NftPayloads.full(nft, space, Set.of("mark-1", "mark-2", "mark-7", "foreign"));
    assertTrue(
        full.contains("flush chain inet metaleg mark-7\ndelete chain inet metaleg mark-7\n"));
    assertTrue(!full.contains("delete chain inet metaleg foreign"), "only stale mark chains");
  }

  @Test
  void parsesAListingWithOtherTablesAndWrappedElements() {
    String listing =
        """
        table ip other {
        	chain c {
        		type filter hook input priority filter; policy accept;
        		counter
        	}
        }
        table inet metaleg {
        	set reject4 {
        		type ipv4_addr
        		elements = { 10.244.1.5,
        			     10.244.1.6 }
        	}
        	map mark4 {
        		type ipv4_addr : verdict
        		elements = { 10.244.1.7 : goto mark-1 }
        	}
        	map snat4 {
        		type ipv4_addr : ipv4_addr
        	}
        	chain mark-1 {
        		meta mark set meta mark & 0xff1fffff | 0x00100000
        	}
        	chain prerouting {
        		type filter hook prerouting priority mangle; policy accept;
        		ct direction reply return
        	}
        }
        """;
    var t = de.metaleg.agent.kernel.NftReader.parse(listing).orElseThrow();
    assertEquals(List.of("10.244.1.5", "10.244.1.6"), t.elements().get("reject4"));
    assertEquals(List.of("10.244.1.7 : goto mark-1"), t.elements().get("mark4"));
    assertEquals(List.of(), t.elements().get("snat4"));
    assertEquals(List.of("ct direction reply return"), t.chains().get("prerouting"));
    assertEquals(Set.of("mark-1", "prerouting"), t.chains().keySet());
    assertTrue(de.metaleg.agent.kernel.NftReader.parse("table ip other {\n}\n").isEmpty());
  }
}
