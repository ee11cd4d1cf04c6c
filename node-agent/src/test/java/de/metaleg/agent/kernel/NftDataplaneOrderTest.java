package de.metaleg.agent.kernel;

import static de.metaleg.agent.kernel.DataplaneKernelIT.forward;
import static de.metaleg.agent.kernel.DataplaneKernelIT.reject;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.kernel.IptablesDataplaneOrderTest.Call;
import de.metaleg.agent.kernel.IptablesDataplaneOrderTest.Recorder;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.common.net.Family;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The nftables backend's transactions with a recording fake runner: one {@code nft -f} per sync,
 * routes before it, stale rules and routes after it, nothing else touched (no ipset, no iptables).
 */
class NftDataplaneOrderTest {
  private final NodeFacts facts;

  NftDataplaneOrderTest() {
    AgentConfig c = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    facts = new NodeFacts(c.markSpace(), c.excludeDestinations());
  }

  private static long nftTransactions(Recorder r) {
    return r.calls.stream().filter(c -> c.argv().equals("nft -f -")).count();
  }

  @Test
  void oneTransactionPerSyncBetweenRoutesAndStaleRoutes() {
    Recorder r = new Recorder();
    NftDataplane dp = new NftDataplane(r, facts);
    dp.sync(
        new DesiredPlan(
            List.of(forward("shop/web", Family.V4, "node-b", "192.0.2.2", "10.244.1.5"))),
        false);
    int route =
        r.indexOf("ip -4 -force -batch -", "route replace default via 192.0.2.2 table 100001");
    int nft = r.indexOf("nft -f -", "add element inet metaleg mark4 { 10.244.1.5 : goto mark-1 }");
    assertTrue(route >= 0 && nft > route, r.calls.toString());
    assertEquals(1, nftTransactions(r));
    assertTrue(
        r.calls.stream()
            .map(Call::argv)
            .noneMatch(a -> a.startsWith("ipset") || a.contains("iptables")),
        "the nftables backend touches neither ipsets nor iptables: " + r.calls);

    r.calls.clear();
    dp.sync(new DesiredPlan(List.of(reject("shop/web", Family.V4, "10.244.1.5"))), false);
    assertEquals(1, nftTransactions(r), r.calls.toString());
    int elements = r.indexOf("nft -f -", "add element inet metaleg reject4 { 10.244.1.5 }");
    int removeRule =
        r.indexOf("ip -4 -force -batch -", "rule del fwmark 0x100000/0xf00000 table 100001");
    assertTrue(elements >= 0 && removeRule > elements, "marks gone before their rule: " + r.calls);
    assertTrue(
        r.calls.get(elements).stdin().contains("delete chain inet metaleg mark-1"),
        r.calls.toString());

    r.calls.clear();
    dp.sync(new DesiredPlan(List.of(reject("shop/web", Family.V4, "10.244.1.5"))), false);
    assertEquals(List.of(), r.calls, "an unchanged plan runs nothing");
  }
}
