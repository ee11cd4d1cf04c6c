package de.metaleg.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.metallb.ServiceL2StatusStatus;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.controller.Controller;
import de.metaleg.controller.ControllerConfig;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServiceStatusBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReviewBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * RBAC derived from the code: the real controller runs against the CRUD mock API server through a
 * whole life cycle (leader election, plans written, failover, Events, a deleted Node's plan
 * collected), every request it sends is recorded, and each one must be allowed by
 * config/rbac/controller.yaml. A new informer or writer without RBAC fails here.
 */
class ControllerRbacMockTest {
  static final String AGENT = "metaleg-controller-under-test";
  static final String OWN_NAMESPACE = "metallb-system";

  @Test
  void everyRequestTheControllerSendsIsAllowedByItsRbac() throws Exception {
    var expectations =
        new HashMap<
            io.fabric8.mockwebserver.ServerRequest,
            java.util.Queue<io.fabric8.mockwebserver.ServerResponse>>();
    KubernetesMockServer server =
        new KubernetesMockServer(
            new Context(Serialization.jsonMapper()),
            new MockWebServer(),
            expectations,
            new KubernetesMixedDispatcher(expectations),
            false);
    server.init();
    // JOSDK asks whether it may use Leases; the CRUD mock cannot answer that review itself.
    server
        .expect()
        .post()
        .withPath("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
        .andReturn(
            201,
            new SelfSubjectRulesReviewBuilder()
                .withNewStatus()
                .addNewResourceRule()
                .withApiGroups("coordination.k8s.io")
                .withResources("leases")
                .withVerbs("get", "list", "watch", "create", "update", "patch")
                .endResourceRule()
                .withIncomplete(false)
                .endStatus()
                .build())
        .always();
    try (KubernetesClient setup = server.createClient();
        KubernetesClient asController =
            server.createClient(
                b ->
                    b.withConfig(
                        new io.fabric8.kubernetes.client.ConfigBuilder(setup.getConfiguration())
                            .withUserAgent(AGENT)
                            .build()))) {
      seed(setup);
      Controller controller =
          new Controller(
              ControllerConfig.fromEnv(
                  Map.of(
                      "METRICS_BIND_ADDRESS", "0",
                      "HEALTH_PROBE_BIND_ADDRESS", "0",
                      "POD_NAMESPACE", OWN_NAMESPACE,
                      "POD_NAME", "controller-0")),
              asController,
              new SimpleMeterRegistry(),
              512 * 1024,
              () -> {});
      try {
        controller.start();
        await(
            () ->
                plan(setup, "node-2") != null
                    && !plan(setup, "node-2").getSpec().getEntries().isEmpty());
        // failover: MetalLB deletes the status object and creates one for another node
        setup.resources(ServiceL2Status.class).inNamespace(OWN_NAMESPACE).withName("l2-a").delete();
        announce(setup, "l2-b", "node-2");
        await(
            () -> "Gateway".equals(plan(setup, "node-2").getSpec().getEntries().get(0).getRole()));
        // a Node leaves: its plan is collected
        setup.nodes().withName("node-3").delete();
        await(() -> plan(setup, "node-3") == null);
        controller.resync();
      } finally {
        controller.close();
      }
    }
    Set<String> denied = new TreeSet<>();
    Set<String> seen = new TreeSet<>();
    Rbac rbac = Rbac.of(Manifests.objects(Manifests.CONFIG), "metaleg-controller");
    RecordedRequest r;
    while ((r = server.takeRequest(100, TimeUnit.MILLISECONDS)) != null) {
      if (!String.valueOf(r.getHeader("User-Agent")).contains(AGENT)) {
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
    server.destroy();
    assertTrue(seen.contains("watch core/services"), "recorded the controller's requests: " + seen);
    assertTrue(seen.contains("create coordination.k8s.io/leases"), "leader election ran: " + seen);
    assertTrue(denied.isEmpty(), "config/rbac/controller.yaml does not allow: " + denied);
    Set<String> unused = new TreeSet<>(rbac.grants());
    unused.removeAll(seen);
    unused.removeAll(GRANTED_BUT_NOT_EXERCISED_HERE);
    assertEquals(Set.of(), unused, "granted but never used (least privilege): seen " + seen);
  }

  /** Grants this scenario does not exercise, each with its reason. */
  static final Set<String> GRANTED_BUT_NOT_EXERCISED_HERE =
      Set.of(
          // get beside list/watch: the conventional read triple; kubectl-style lookups in logs
          "get core/nodes",
          "get core/services",
          "get discovery.k8s.io/endpointslices",
          "get metallb.io/servicel2statuses",
          "get metaleg.de/egressplans",
          // a repeated Event is patched (EventRecorderMockTest in the controller module)
          "patch core/events");

  static EgressPlan plan(KubernetesClient c, String node) {
    return c.resources(EgressPlan.class).withName(node).get();
  }

  static void seed(KubernetesClient c) throws Exception {
    c.apiextensions()
        .v1()
        .customResourceDefinitions()
        .resource(
            Serialization.unmarshal(
                java.nio.file.Files.readString(
                    Manifests.CONFIG.resolve("crd/egressplans.metaleg.de-v1.yml")),
                CustomResourceDefinition.class))
        .create();
    c.apiextensions()
        .v1()
        .customResourceDefinitions()
        .resource(
            Serialization.unmarshal(
                java.nio.file.Files.readString(
                    Path.of(
                        "..", "lab/src/main/resources/crd/servicel2statuses.metallb.io-v1.yml")),
                CustomResourceDefinition.class))
        .create();
    for (String ns : new String[] {"default", OWN_NAMESPACE, "app"}) {
      c.namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
          .create();
    }
    for (int n = 1; n <= 3; n++) {
      c.nodes()
          .resource(
              new NodeBuilder()
                  .withNewMetadata()
                  .withName("node-" + n)
                  .withUid("uid-" + n)
                  .endMetadata()
                  .withNewStatus()
                  .addNewAddress()
                  .withType("InternalIP")
                  .withAddress("192.0.2." + n)
                  .endAddress()
                  .endStatus()
                  .build())
          .create();
    }
    Service svc =
        c.resource(
                new ServiceBuilder()
                    .withNewMetadata()
                    .withNamespace("app")
                    .withName("web")
                    .addToLabels(EgressPlan.SERVICE_OPT_IN_LABEL, "true")
                    .endMetadata()
                    .withNewSpec()
                    .withType("LoadBalancer")
                    .endSpec()
                    .build())
            .create();
    svc.setStatus(
        new ServiceStatusBuilder()
            .withNewLoadBalancer()
            .addNewIngress()
            .withIp("198.51.100.10")
            .endIngress()
            .endLoadBalancer()
            .build());
    c.resource(svc).updateStatus();
    c.resource(
            new EndpointSliceBuilder()
                .withNewMetadata()
                .withNamespace("app")
                .withName("web-1")
                .addToLabels("kubernetes.io/service-name", "web")
                .endMetadata()
                .withAddressType("IPv4")
                .addNewEndpoint()
                .withAddresses("10.244.2.5")
                .withNodeName("node-2")
                .endEndpoint()
                .addNewEndpoint()
                .withAddresses("10.244.3.5")
                .withNodeName("node-3")
                .endEndpoint()
                .build())
        .create();
    announce(c, "l2-a", "node-1");
  }

  static void announce(KubernetesClient c, String name, String node) {
    ServiceL2Status l2 = new ServiceL2Status();
    l2.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(OWN_NAMESPACE)
            .withName(name)
            .addToLabels(ServiceL2Status.LABEL_SERVICE_NAME, "web")
            .addToLabels(ServiceL2Status.LABEL_SERVICE_NAMESPACE, "app")
            .build());
    ServiceL2Status created = c.resource(l2).create();
    ServiceL2StatusStatus st = new ServiceL2StatusStatus();
    st.setNode(node);
    created.setStatus(st);
    c.resource(created).updateStatus();
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
}
