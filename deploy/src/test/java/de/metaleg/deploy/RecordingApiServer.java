package de.metaleg.deploy;

import de.metaleg.testing.CrudApiServer;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * fabric8's CRUD mock API server with MetalEG's and MetalLB's CRDs, recording every request, so a
 * test can run a component against it and check each request against the component's RBAC.
 */
final class RecordingApiServer implements AutoCloseable {
  static final String OWN_NAMESPACE = "metallb-system";

  final KubernetesMockServer server = CrudApiServer.start("default", OWN_NAMESPACE, "app");
  final KubernetesClient setup = server.createClient();

  /** A client whose requests carry {@code userAgent}, to tell them from the test's own. */
  KubernetesClient clientAs(String userAgent) {
    return server.createClient(
        b ->
            b.withConfig(
                new ConfigBuilder(setup.getConfiguration()).withUserAgent(userAgent).build()));
  }

  /** Result of checking the recorded requests of one user agent against RBAC. */
  record Check(Set<String> seen, Set<String> denied, Set<String> unused) {}

  /**
   * Drains the recorded requests of {@code userAgent}: which (verb, group, resource) it used, which
   * of those {@code rbac} denies, and which grants it never used.
   */
  Check check(String userAgent, Rbac rbac) throws InterruptedException {
    Set<String> seen = new TreeSet<>();
    Set<String> denied = new TreeSet<>();
    RecordedRequest r;
    while ((r = server.takeRequest(100, TimeUnit.MILLISECONDS)) != null) {
      if (!String.valueOf(r.getHeader("User-Agent")).contains(userAgent)) {
        continue;
      }
      String path = r.getPath();
      var request = ApiRequest.parse(r.getMethod(), path);
      if (request.isEmpty() || request.get().resource().equals("selfsubjectrulesreviews")) {
        continue; // discovery and self-reviews need no RBAC beyond system:basic-user
      }
      seen.add(request.get().toString());
      if (!rbac.allows(request.get(), path.contains("/namespaces/" + OWN_NAMESPACE + "/"))) {
        denied.add(request.get() + "  (" + r.getMethod() + " " + path + ")");
      }
    }
    Set<String> unused = new TreeSet<>(rbac.grants());
    unused.removeAll(seen);
    return new Check(seen, denied, unused);
  }

  static void await(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out");
      }
      Thread.sleep(50);
    }
  }

  static List<String> list(Set<String> s) {
    return new ArrayList<>(s);
  }

  @Override
  public void close() {
    setup.close();
    server.destroy();
  }
}
