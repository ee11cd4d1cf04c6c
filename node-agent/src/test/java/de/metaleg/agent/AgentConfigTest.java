package de.metaleg.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.common.ConfigException;
import de.metaleg.common.net.Family;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AgentConfigTest {
  private static Map<String, String> env(String... kv) {
    Map<String, String> m = new HashMap<>(Map.of("NODE_NAME", "node-a"));
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  @Test
  void defaultsMatchTheUsersTable() {
    AgentConfig c = AgentConfig.fromEnv(env());
    assertEquals("node-a", c.nodeName());
    assertEquals("iptables", c.firewallBackend());
    assertEquals(0x00F00000L, c.markSpace().mask());
    assertEquals(15, c.markSpace().maxIndex());
    assertEquals(100001, c.markSpace().firstTable());
    assertEquals(100015, c.markSpace().lastTable());
    assertEquals("netlink", c.routeBackend());
    assertEquals(Duration.ofMinutes(5), c.reconciliationInterval());
    assertEquals(21793, c.metricsAddress().orElseThrow().port());
    assertEquals(21794, c.healthProbeAddress().orElseThrow().port());
    assertEquals(
        List.of("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"),
        c.exclude(Family.V4).stream().map(x -> x.text()).toList());
    assertEquals(
        List.of("fc00::/7", "fe80::/10"),
        c.exclude(Family.V6).stream().map(x -> x.text()).toList());
  }

  @Test
  void variablesListNamesEverythingReadWithDefaults() {
    assertEquals(
        List.of(
            "NODE_NAME",
            "FIREWALL_BACKEND",
            "FIREWALL_MASK",
            "FIREWALL_EXCLUDE_DST_CIDRS",
            "ROUTE_BACKEND",
            "ROUTE_TABLE_ID_OFFSET",
            "RECONCILIATION_INTERVAL",
            "METRICS_BIND_ADDRESS",
            "HEALTH_PROBE_BIND_ADDRESS"),
        AgentConfig.VARIABLES.stream().map(de.metaleg.common.EnvVar::name).toList());
    assertEquals("0x00F00000", AgentConfig.defaultOf("FIREWALL_MASK"));
  }

  @Test
  void probesCanBeDisabledAndHostsParsed() {
    AgentConfig c =
        AgentConfig.fromEnv(
            env("METRICS_BIND_ADDRESS", "0", "HEALTH_PROBE_BIND_ADDRESS", "127.0.0.1:8080"));
    assertTrue(c.metricsAddress().isEmpty());
    assertEquals("127.0.0.1", c.healthProbeAddress().orElseThrow().host());
  }

  @Test
  void excludeCidrsAreCanonicalised() {
    AgentConfig c =
        AgentConfig.fromEnv(
            env("FIREWALL_EXCLUDE_DST_CIDRS", "10.1.2.3/8 ,2001:DB8:0:0::1/32,192.0.2.7"));
    assertEquals(
        List.of("10.0.0.0/8", "192.0.2.7"),
        c.exclude(Family.V4).stream().map(x -> x.text()).toList());
    assertEquals(
        List.of("2001:db8::/32"), c.exclude(Family.V6).stream().map(x -> x.text()).toList());
  }

  @ParameterizedTest(name = "{0}={1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "NODE_NAME|''|NODE_NAME",
        "FIREWALL_BACKEND|ipfw|unknown firewall backend",
        "ROUTE_BACKEND|bird|unknown route backend",
        "FIREWALL_MASK|0x00F10000|contiguous",
        "FIREWALL_MASK|0x00100000|at least 2 bits",
        "FIREWALL_MASK|0|between",
        "FIREWALL_MASK|banana|not a number",
        "FIREWALL_MASK|0x1FFFFFFFF|between",
        "FIREWALL_EXCLUDE_DST_CIDRS|10.0.0.0/8,10.0.0.0/33|\"10.0.0.0/33\"",
        "FIREWALL_EXCLUDE_DST_CIDRS|example.com|\"example.com\"",
        "FIREWALL_EXCLUDE_DST_CIDRS|10.0.0.0/8,::/0|/0 prefix is not supported",
        "ROUTE_TABLE_ID_OFFSET|250|overlap the reserved tables 253-255",
        "ROUTE_TABLE_ID_OFFSET|4294967290|inside 1..4294967295",
        "ROUTE_TABLE_ID_OFFSET|-1|between",
        "RECONCILIATION_INTERVAL|5 minutes|not a duration",
        "METRICS_BIND_ADDRESS|21793|expected [host]:port",
      })
  void rejectsBadValuesNamingVariableAndValue(String variable, String value, String why) {
    Map<String, String> e = env(variable, value);
    if (variable.equals("NODE_NAME")) {
      e.remove("NODE_NAME");
    }
    ConfigException ex = assertThrows(ConfigException.class, () -> AgentConfig.fromEnv(e));
    assertTrue(ex.getMessage().startsWith(variable + "="), ex.getMessage());
    assertTrue(ex.getMessage().contains(value), ex.getMessage());
    assertTrue(ex.getMessage().contains(why), ex.getMessage());
  }

  @Test
  void tableOffsetJustBelowReservedAndAboveAreFine() {
    assertEquals(
        252, AgentConfig.fromEnv(env("ROUTE_TABLE_ID_OFFSET", "237")).markSpace().lastTable());
    assertEquals(
        256, AgentConfig.fromEnv(env("ROUTE_TABLE_ID_OFFSET", "255")).markSpace().firstTable());
  }

  @Test
  void nftablesIsAFirewallBackend() {
    assertEquals(
        "nftables", AgentConfig.fromEnv(env("FIREWALL_BACKEND", "nftables")).firewallBackend());
  }

  @Test
  void cleanupDoesNotNeedANodeName() {
    assertEquals("", AgentConfig.forCleanup(Map.of()).nodeName());
  }
}
