package de.metaleg.agent.render;

import static org.junit.jupiter.api.Assertions.assertEquals;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.model.MarkSpace;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * What the iptables backend renders, read back as a previous process left it (owned rules, sets,
 * default routes), rebuilds the entries it came from. Pods 10.244.1.x / fd00:10:244:1::x, gateway
 * node-b at 192.0.2.2 / 2001:db8::2, LB IP 198.51.100.10.
 */
class EntryRecoveryTest {
  private final NodeFacts facts;

  EntryRecoveryTest() {
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
  }

  static Entry entry(String service, Family f, Role role, String source) {
    boolean forward = role == Role.Forward;
    return new Entry(
        service,
        f,
        role,
        EntryRecovery.REASON,
        forward ? Optional.of("node-b") : Optional.empty(),
        forward ? Optional.of(f == Family.V4 ? "192.0.2.2" : "2001:db8::2") : Optional.empty(),
        role == Role.Gateway ? Optional.of("198.51.100.10") : Optional.empty(),
        List.of(source));
  }

  /** The kernel after programming {@code plan}, as the iptables backend reads it back. */
  record Kernel(
      Map<Family, List<String>> rules,
      Map<String, ObservedSet> sets,
      Map<Family, ObservedRoutes> routes) {}

  Kernel programmed(DesiredPlan plan) {
    DesiredState state = DataplaneRenderer.render(plan, facts, Map.of("node-b", 1), Set.of());
    Map<Family, List<String>> rules = new EnumMap<>(Family.class);
    Map<Family, ObservedRoutes> routes = new EnumMap<>(Family.class);
    for (Family f : Family.values()) {
      rules.put(
          f,
          IptablesPayloads.render(state, facts.marks(), f).values().stream()
              .flatMap(String::lines)
              .filter(l -> l.startsWith("-A " + Names.CHAIN_PREFIX))
              .toList());
      Map<Long, String> gateways = new HashMap<>();
      state.routes(f).forEach(r -> gateways.put(r.table(), r.gateway()));
      routes.put(f, new ObservedRoutes(f, gateways.keySet(), gateways, state.policyRules(f)));
    }
    Map<String, ObservedSet> sets =
        state.sets().stream()
            .collect(
                Collectors.toMap(
                    IpSetSpec::name,
                    s -> new ObservedSet(s.name(), s.type(), s.family(), s.members())));
    return new Kernel(rules, sets, routes);
  }

  List<Entry> recover(Kernel k, String service, Map<String, String> nodeByGatewayIp) {
    MarkSpace marks = facts.marks();
    return EntryRecovery.recover(service, k.rules(), k.sets(), k.routes(), marks, nodeByGatewayIp);
  }

  @Test
  void rebuildsEachRoleFromWhatWasProgrammed() {
    List<Entry> forward =
        List.of(
            entry("shop/web", Family.V4, Role.Forward, "10.244.1.5"),
            entry("shop/web", Family.V6, Role.Forward, "fd00:10:244:1::5"));
    Entry gateway = entry("shop/api", Family.V4, Role.Gateway, "10.244.1.6");
    Entry reject = entry("shop/db", Family.V4, Role.Reject, "10.244.1.7");
    List<Entry> all = new java.util.ArrayList<>(forward);
    all.add(gateway);
    all.add(reject);
    Kernel k = programmed(new DesiredPlan(all));

    Map<String, String> nodeByIp = Map.of("192.0.2.2", "node-b");
    assertEquals(forward, recover(k, "shop/web", nodeByIp));
    assertEquals(List.of(gateway), recover(k, "shop/api", nodeByIp));
    assertEquals(List.of(reject), recover(k, "shop/db", nodeByIp));
    assertEquals(List.of(), recover(k, "shop/none", nodeByIp), "nothing programmed for it");
  }

  @Test
  void aGatewayNoValidEntryNamesIsUnknownByItsTable() {
    Kernel k =
        programmed(
            new DesiredPlan(List.of(entry("shop/web", Family.V4, Role.Forward, "10.244.1.5"))));
    Entry recovered = recover(k, "shop/web", Map.of()).get(0);
    assertEquals(
        Optional.of("unknown-gateway-table-" + facts.marks().table(1)), recovered.gatewayNode());
    assertEquals(Optional.of("192.0.2.2"), recovered.gatewayIp());
  }
}
