package de.metaleg.testing;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.authorization.v1.ResourceRule;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;

/**
 * fabric8's mock API server in CRUD mode, as the tests of every module use it: started on a free
 * local port, with the EgressPlan CRD (the generator's output, packaged in metaleg-api) and
 * MetalLB's ServiceL2Status CRD registered through the API, so the mock applies their scope and
 * status subresource. Expectations (canned answers for what CRUD mode cannot do) go through the
 * returned server's {@code expect()}.
 */
public final class CrudApiServer {
  /** Classpath resources of the two CRDs. */
  public static final String EGRESSPLAN_CRD = "META-INF/fabric8/egressplans.metaleg.de-v1.yml";

  public static final String SERVICEL2STATUS_CRD = "crd/servicel2statuses.metallb.io-v1.yml";

  private CrudApiServer() {}

  /** A started server with both CRDs and the given namespaces. */
  public static KubernetesMockServer start(String... namespaces) {
    Map<ServerRequest, Queue<ServerResponse>> expectations = new HashMap<>();
    KubernetesMockServer server =
        new KubernetesMockServer(
            new Context(Serialization.jsonMapper()),
            new MockWebServer(),
            expectations,
            new KubernetesMixedDispatcher(expectations),
            false);
    server.init();
    try (KubernetesClient client = server.createClient()) {
      for (String crd : new String[] {EGRESSPLAN_CRD, SERVICEL2STATUS_CRD}) {
        client.apiextensions().v1().customResourceDefinitions().resource(crd(crd)).create();
      }
      for (String ns : namespaces) {
        client
            .namespaces()
            .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
            .create();
      }
    }
    return server;
  }

  /**
   * Answers every SelfSubjectRulesReview (JOSDK's permission check before leader election, which
   * CRUD mode cannot answer) with {@code rules}.
   */
  public static void answerRulesReviews(KubernetesMockServer server, List<ResourceRule> rules) {
    server
        .expect()
        .post()
        .withPath("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
        .andReturn(
            201,
            new SelfSubjectRulesReviewBuilder()
                .withNewStatus()
                .withResourceRules(rules)
                .withIncomplete(false)
                .endStatus()
                .build())
        .always();
  }

  /** One of the CRDs above, from the classpath. */
  public static CustomResourceDefinition crd(String resource) {
    try (InputStream in = CrudApiServer.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("CRD not on the classpath: " + resource);
      }
      return Serialization.unmarshal(in, CustomResourceDefinition.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
