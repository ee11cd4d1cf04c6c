package de.metaleg.common;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The two small HTTP servers every MetalEG process runs on the JDK's HttpServer: Prometheus metrics
 * on METRICS_BIND_ADDRESS and /healthz + /readyz on HEALTH_PROBE_BIND_ADDRESS.
 */
public final class HttpEndpoints implements AutoCloseable {
  private final Optional<HttpServer> metrics;
  private final Optional<HttpServer> probes;

  private HttpEndpoints(Optional<HttpServer> metrics, Optional<HttpServer> probes) {
    this.metrics = metrics;
    this.probes = probes;
  }

  /** Starts the servers whose address is present; fails with the address when it can't bind. */
  public static HttpEndpoints start(
      Optional<BindAddress> metricsAddress,
      Supplier<String> scrape,
      Optional<BindAddress> probeAddress,
      BooleanSupplier healthy,
      BooleanSupplier ready) {
    Optional<HttpServer> m =
        metricsAddress.map(a -> serve(a, Map.of("/metrics", () -> new Reply(200, scrape.get()))));
    Optional<HttpServer> p =
        probeAddress.map(
            a ->
                serve(
                    a,
                    Map.of(
                        "/healthz", () -> probe(healthy),
                        "/readyz", () -> probe(ready))));
    return new HttpEndpoints(m, p);
  }

  /** The port actually bound (useful with port 0 in tests). */
  public Optional<Integer> metricsPort() {
    return metrics.map(s -> s.getAddress().getPort());
  }

  public Optional<Integer> probePort() {
    return probes.map(s -> s.getAddress().getPort());
  }

  private record Reply(int code, String body) {}

  private static Reply probe(BooleanSupplier check) {
    return check.getAsBoolean() ? new Reply(200, "ok\n") : new Reply(503, "not ready\n");
  }

  private static HttpServer serve(BindAddress address, Map<String, Supplier<Reply>> routes) {
    try {
      HttpServer server = HttpServer.create(address.socketAddress(), 16);
      routes.forEach(
          (path, handler) ->
              server.createContext(
                  path,
                  exchange -> {
                    Reply reply = handler.get();
                    byte[] body = reply.body().getBytes(StandardCharsets.UTF_8);
                    exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4");
                    exchange.sendResponseHeaders(reply.code(), body.length);
                    try (OutputStream out = exchange.getResponseBody()) {
                      out.write(body);
                    }
                  }));
      server.start();
      return server;
    } catch (IOException e) {
      throw new IllegalStateException("cannot listen on " + address + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    metrics.ifPresent(s -> s.stop(0));
    probes.ifPresent(s -> s.stop(0));
  }
}
