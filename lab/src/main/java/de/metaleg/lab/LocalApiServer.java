package de.metaleg.lab;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.URI;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;

/**
 * fabric8's mock API server in CRUD mode, bound to one address, with the CRDs the lab needs. CRDs
 * are created through the API (not only "expected") so the mock applies their scope and the status
 * subresource; watches are served over WebSocket only (fabric8 informers, JOSDK).
 */
public final class LocalApiServer implements AutoCloseable {
  /** Classpath resources, registered in this order at startup. */
  public static final List<String> CRDS =
      List.of("crd/egressplans.metaleg.de-v1.yml", "crd/servicel2statuses.metallb.io-v1.yml");

  public static final List<String> NAMESPACES = List.of("default", "kube-system", "metallb-system");

  private final KubernetesMockServer server;
  private final URI uri;

  private LocalApiServer(KubernetesMockServer server, URI uri) {
    this.server = server;
    this.uri = uri;
  }

  public static LocalApiServer start(InetAddress address, int port) {
    Map<ServerRequest, Queue<ServerResponse>> expectations = new HashMap<>();
    LabDispatcher dispatcher =
        new LabDispatcher(new KubernetesMixedDispatcher(expectations), Serialization.jsonMapper());
    KubernetesMockServer server =
        new KubernetesMockServer(
            new Context(Serialization.jsonMapper()),
            new MockWebServer(),
            expectations,
            dispatcher,
            false);
    server.init(address, port);
    LocalApiServer api =
        new LocalApiServer(server, Kubeconfig.httpUri(address.getHostAddress(), server.getPort()));
    api.bootstrap(dispatcher);
    return api;
  }

  public URI uri() {
    return uri;
  }

  private void bootstrap(LabDispatcher dispatcher) {
    try (KubernetesClient client =
        new KubernetesClientBuilder()
            .withConfig(
                new io.fabric8.kubernetes.client.ConfigBuilder()
                    .withMasterUrl(uri.toString())
                    .withTrustCerts(true)
                    .build())
            .build()) {
      for (String resource : CRDS) {
        CustomResourceDefinition crd = load(resource);
        client.apiextensions().v1().customResourceDefinitions().resource(crd).create();
        dispatcher.addCrd(crd);
      }
      for (String ns : NAMESPACES) {
        client
            .namespaces()
            .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
            .create();
      }
    }
  }

  static CustomResourceDefinition load(String resource) {
    try (InputStream in = LocalApiServer.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("CRD resource missing from the lab jar: " + resource);
      }
      return Serialization.unmarshal(in, CustomResourceDefinition.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    server.destroy();
  }
}
