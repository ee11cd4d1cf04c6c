package de.metaleg.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class EnvTest {
  @Test
  void durationsInTheUsersNotation() {
    Env env = new Env(Map.of("A", "5m", "B", "1h30m", "C", "250ms"));
    assertEquals(Duration.ofMinutes(5), env.duration("A", "1s"));
    assertEquals(Duration.ofMinutes(90), env.duration("B", "1s"));
    assertEquals(Duration.ofMillis(250), env.duration("C", "1s"));
    assertEquals(Duration.ofMinutes(5), env.duration("UNSET", "5m"));
  }

  @Test
  void badValuesNameTheVariableAndValue() {
    Env env = new Env(Map.of("D", "5 minutes", "E", "yes", "F", "0s"));
    ConfigException e = assertThrows(ConfigException.class, () -> env.duration("D", "5m"));
    assertTrue(e.getMessage().contains("D=\"5 minutes\""), e.getMessage());
    assertThrows(ConfigException.class, () -> env.bool("E", true));
    assertThrows(ConfigException.class, () -> env.duration("F", "5m"));
    assertThrows(ConfigException.class, () -> env.required("NODE_NAME"));
  }

  @Test
  void bindAddresses() {
    assertEquals(Optional.of(new BindAddress("", 21793)), BindAddress.parse("M", ":21793"));
    assertEquals(
        Optional.of(new BindAddress("127.0.0.1", 8080)), BindAddress.parse("M", "127.0.0.1:8080"));
    assertEquals(Optional.of(new BindAddress("::1", 8080)), BindAddress.parse("M", "[::1]:8080"));
    assertEquals(Optional.empty(), BindAddress.parse("M", "0"));
    assertThrows(ConfigException.class, () -> BindAddress.parse("M", "21793"));
    assertThrows(ConfigException.class, () -> BindAddress.parse("M", ":99999"));
  }

  @Test
  void endpointsServeMetricsAndProbes() throws Exception {
    AtomicBoolean ready = new AtomicBoolean(false);
    Optional<BindAddress> any = Optional.of(new BindAddress("127.0.0.1", 0));
    try (HttpEndpoints http =
        HttpEndpoints.start(any, () -> "x_total 1\n", any, () -> true, ready::get)) {
      HttpClient client = HttpClient.newHttpClient();
      int probe = http.probePort().orElseThrow();
      assertEquals(200, get(client, probe, "/healthz").statusCode());
      assertEquals(503, get(client, probe, "/readyz").statusCode());
      ready.set(true);
      assertEquals(200, get(client, probe, "/readyz").statusCode());
      assertEquals("x_total 1\n", get(client, http.metricsPort().orElseThrow(), "/metrics").body());
    }
  }

  private static HttpResponse<String> get(HttpClient client, int port, String path)
      throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
