package de.metaleg.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.common.BindAddress;
import de.metaleg.common.ConfigException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ControllerConfigTest {
  @Test
  void defaultsMatchTheUsersTable() {
    ControllerConfig c = ControllerConfig.fromEnv(Map.of());
    assertEquals("metallb-system", c.metallbNamespace());
    assertTrue(c.filterEndpointsForNode());
    assertEquals(Duration.ofMinutes(5), c.reconciliationInterval());
    assertEquals(Duration.ofSeconds(2), c.gatewayGracePeriod());
    assertEquals(Duration.ofSeconds(2), c.plannerConfig().gatewayGracePeriod());
    assertEquals(Optional.of(new BindAddress("", 21793)), c.metricsAddress());
    assertEquals(Optional.of(new BindAddress("", 21794)), c.healthProbeAddress());
    assertFalse(c.leaderElection(), "no POD_NAMESPACE: running locally, no leader election");
  }

  @Test
  void readsEveryVariable() {
    ControllerConfig c =
        ControllerConfig.fromEnv(
            Map.of(
                "METALLB_NAMESPACE", "lb",
                "FILTER_ENDPOINTS_FOR_NODE", "false",
                "RECONCILIATION_INTERVAL", "1h30m",
                "GATEWAY_GRACE_PERIOD", "1500ms",
                "METRICS_BIND_ADDRESS", "0",
                "HEALTH_PROBE_BIND_ADDRESS", "127.0.0.1:8081",
                "POD_NAME", "metaleg-controller-abc",
                "POD_NAMESPACE", "metaleg-system"));
    assertEquals("lb", c.metallbNamespace());
    assertFalse(c.filterEndpointsForNode());
    assertEquals(Duration.ofMinutes(90), c.reconciliationInterval());
    assertEquals(Duration.ofMillis(1500), c.plannerConfig().gatewayGracePeriod());
    assertEquals(Optional.empty(), c.metricsAddress());
    assertEquals(Optional.of(new BindAddress("127.0.0.1", 8081)), c.healthProbeAddress());
    assertEquals(Optional.of("metaleg-system"), c.leaseNamespace());
    assertEquals(Optional.of("metaleg-controller-abc"), c.identity());
  }

  @ParameterizedTest(name = "{0}={1} is rejected")
  @CsvSource({
    "METALLB_NAMESPACE, Metallb_System",
    "FILTER_ENDPOINTS_FOR_NODE, yes",
    "RECONCILIATION_INTERVAL, 5 minutes",
    "RECONCILIATION_INTERVAL, 0s",
    "GATEWAY_GRACE_PERIOD, -1s",
    "GATEWAY_GRACE_PERIOD, -0",
    "GATEWAY_GRACE_PERIOD, 2",
    "GATEWAY_GRACE_PERIOD, 2 seconds",
    "GATEWAY_GRACE_PERIOD, soon",
    "METRICS_BIND_ADDRESS, 21793",
    "HEALTH_PROBE_BIND_ADDRESS, :99999",
    "POD_NAMESPACE, -bad-"
  })
  void badValuesNameTheVariable(String name, String value) {
    ConfigException e =
        assertThrows(ConfigException.class, () -> ControllerConfig.fromEnv(Map.of(name, value)));
    assertTrue(e.getMessage().startsWith(name + "="), e.getMessage());
  }

  @ParameterizedTest(name = "GATEWAY_GRACE_PERIOD={0} turns the grace off")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"0", "0s", "0ms", "00m"})
  void zeroTurnsTheGracePeriodOff(String value) {
    assertEquals(
        Duration.ZERO,
        ControllerConfig.fromEnv(Map.of("GATEWAY_GRACE_PERIOD", value)).gatewayGracePeriod());
  }

  @Test
  void aNegativeGracePeriodSaysSo() {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> ControllerConfig.fromEnv(Map.of("GATEWAY_GRACE_PERIOD", "-2s")));
    assertEquals(
        "GATEWAY_GRACE_PERIOD=\"-2s\": must not be negative (0 turns the grace period off)",
        e.getMessage());
  }

  @Test
  void variableListCoversWhatIsRead() {
    assertEquals(
        java.util.List.of(
            "METALLB_NAMESPACE",
            "FILTER_ENDPOINTS_FOR_NODE",
            "RECONCILIATION_INTERVAL",
            "GATEWAY_GRACE_PERIOD",
            "METRICS_BIND_ADDRESS",
            "HEALTH_PROBE_BIND_ADDRESS",
            "POD_NAME",
            "POD_NAMESPACE"),
        ControllerConfig.VARIABLES.stream().map(de.metaleg.common.EnvVar::name).toList());
  }
}
