package de.metaleg.agent.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.DataplaneRenderer;
import de.metaleg.agent.render.DesiredState;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.LatencyBuckets;
import de.metaleg.common.net.Family;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Pods 10.244.1.x / fd00:10:244:1::x, gateway 192.0.2.2, LB IP 198.51.100.10. */
class AgentMetricsTest {
  static List<String> lines(String scrape, String prefix) {
    return scrape.lines().filter(l -> l.startsWith(prefix)).toList();
  }

  @Test
  void syncHistogramHasTheFixedBuckets() {
    AgentMetrics m = new AgentMetrics();
    List<String> buckets =
        lines(m.scrape(), "metaleg_agent_sync_duration_seconds_bucket{kind=\"full\"");
    assertEquals(LatencyBuckets.COUNT + 1, buckets.size(), String.join("\n", buckets));
    assertTrue(buckets.get(0).contains("le=\"0.001\""), buckets.get(0));
    assertTrue(buckets.get(LatencyBuckets.COUNT - 1).contains("le=\"16.384\""), buckets.toString());
    assertTrue(buckets.get(LatencyBuckets.COUNT).contains("le=\"+Inf\""));
  }

  static Entry entry(String service, Family f, Role role, String source) {
    boolean forward = role == Role.Forward;
    return new Entry(
        service,
        f,
        role,
        "test",
        forward ? Optional.of("node-b") : Optional.empty(),
        forward ? Optional.of("192.0.2.2") : Optional.empty(),
        role == Role.Gateway ? Optional.of("198.51.100.10") : Optional.empty(),
        List.of(source));
  }

  @Test
  void rulesAreCountedFromTheProgrammedStateOnePerServiceAndFamily() {
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    DesiredState state =
        DataplaneRenderer.render(
            new DesiredPlan(
                List.of(
                    entry("shop/web", Family.V4, Role.Reject, "10.244.1.5"),
                    entry("shop/web", Family.V6, Role.Reject, "fd00:10:244:1::5"),
                    entry("shop/api", Family.V4, Role.Forward, "10.244.1.6"),
                    entry("shop/db", Family.V4, Role.Gateway, "10.244.1.7"))),
            new NodeFacts(config.markSpace(), config.excludeDestinations()),
            Map.of("node-b", 1),
            Set.of());
    AgentMetrics m = new AgentMetrics();
    m.synced(true, Duration.ofMillis(3), state, 1_700_000_000L);
    String scrape = m.scrape();
    assertEquals(
        List.of("metaleg_agent_rules{role=\"Reject\"} 2.0"),
        lines(scrape, "metaleg_agent_rules{role=\"Reject\""));
    assertEquals(
        List.of("metaleg_agent_rules{role=\"Forward\"} 1.0"),
        lines(scrape, "metaleg_agent_rules{role=\"Forward\""));
    assertEquals(
        List.of("metaleg_agent_rules{role=\"Gateway\"} 1.0"),
        lines(scrape, "metaleg_agent_rules{role=\"Gateway\""));
    assertEquals(
        List.of("metaleg_agent_entries{role=\"Reject\"} 1.0"),
        lines(scrape, "metaleg_agent_entries{role=\"Reject\""));
  }

  private static StatusBuilder.Outcome outcome(List<String> problems, Optional<String> failure) {
    return new StatusBuilder.Outcome(
        4,
        Optional.empty(),
        problems,
        failure,
        "iptables",
        "netlink",
        java.time.Instant.parse("2026-12-02T00:00:00Z"),
        3,
        "test");
  }

  private static List<String> planGauges(AgentMetrics m) {
    String scrape = m.scrape();
    return List.of(
        String.join("", lines(scrape, "metaleg_agent_plan_ready ")),
        String.join("", lines(scrape, "metaleg_agent_plan_degraded ")));
  }

  @Test
  void planReadyAndDegradedFollowTheComputedConditions() {
    AgentMetrics m = new AgentMetrics();
    m.planPresent(true);
    assertEquals(
        List.of("metaleg_agent_plan_ready 0.0", "metaleg_agent_plan_degraded 0.0"),
        planGauges(m),
        "before the first sync nothing is Ready");
    m.planStatus(StatusBuilder.build(null, outcome(List.of(), Optional.empty())));
    assertEquals(
        List.of("metaleg_agent_plan_ready 1.0", "metaleg_agent_plan_degraded 0.0"), planGauges(m));
    m.planStatus(StatusBuilder.build(null, outcome(List.of("bad IP"), Optional.empty())));
    assertEquals(
        List.of("metaleg_agent_plan_ready 1.0", "metaleg_agent_plan_degraded 1.0"), planGauges(m));
    m.planStatus(StatusBuilder.build(null, outcome(List.of(), Optional.of("ipset restore: 1"))));
    assertEquals(
        List.of("metaleg_agent_plan_ready 0.0", "metaleg_agent_plan_degraded 0.0"), planGauges(m));
    m.planStatus(StatusBuilder.build(null, outcome(List.of(), Optional.empty())));
    m.planPresent(false);
    assertEquals(
        List.of("metaleg_agent_plan_ready 0.0", "metaleg_agent_plan_degraded 0.0"),
        planGauges(m),
        "a deleted plan is not Ready");
  }
}
