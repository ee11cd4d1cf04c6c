package de.metaleg.deploy;

import static de.metaleg.deploy.RecordingApiServer.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.metallb.ServiceL2StatusStatus;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.controller.Controller;
import de.metaleg.controller.ControllerConfig;
import de.metaleg.testing.CrudApiServer;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServiceStatusBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.ResourceRuleBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * RBAC derived from the code: the real controller runs against the CRUD mock API server through a
 * whole life cycle (leader election, plans written, failover, Events, a deleted Node's plan
 * collected), every request it sends is recorded, and each one must be allowed by
 * config/rbac/controller.yaml. A new informer or writer without RBAC fails here.
 */
class ControllerRbacMockTest {
  static final String AGENT = "metaleg-controller-under-test";
  static final String OWN_NAMESPACE = RecordingApiServer.OWN_NAMESPACE;

  @Test
  void everyRequestTheControllerSendsIsAllowedByItsRbac() throws Exception {
    RecordingApiServer.Check check;
    try (RecordingApiServer api = new RecordingApiServer()) {
      // JOSDK asks whether it may use Leases; the CRUD mock cannot answer that review itself, so it
      // answers with the lease rules of config/rbac/controller.yaml's Role.
      Rbac rbac = Rbac.of(Manifests.objects(Manifests.CONFIG), "metaleg-controller");
      CrudApiServer.answerRulesReviews(
          api.server,
          rbac.namespaceRules().stream()
              .map(
                  r ->
                      new ResourceRuleBuilder()
                          .withApiGroups(r.getApiGroups())
                          .withResources(r.getResources())
                          .withVerbs(r.getVerbs())
                          .build())
              .toList());
      KubernetesClient setup = api.setup;
      seed(setup);
      try (KubernetesClient asController = api.clientAs(AGENT)) {
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
          setup
              .resources(ServiceL2Status.class)
              .inNamespace(OWN_NAMESPACE)
              .withName("l2-a")
              .delete();
          announce(setup, "l2-b", "node-2");
          await(
              () ->
                  "Gateway".equals(plan(setup, "node-2").getSpec().getEntries().get(0).getRole()));
          // a Node leaves: its plan is collected
          setup.nodes().withName("node-3").delete();
          await(() -> plan(setup, "node-3") == null);
          controller.resync();
        } finally {
          controller.close();
        }
      }
      check = api.check(AGENT, rbac);
    }
    assertTrue(
        check.seen().contains("watch core/services"), "recorded the requests: " + check.seen());
    assertTrue(
        check.seen().contains("create coordination.k8s.io/leases"),
        "leader election ran: " + check.seen());
    assertTrue(
        check.denied().isEmpty(), "config/rbac/controller.yaml does not allow: " + check.denied());
    Set<String> unused = new TreeSet<>(check.unused());
    unused.removeAll(GRANTED_BUT_NOT_EXERCISED_HERE);
    assertEquals(Set.of(), unused, "granted but never used (least privilege): " + check.seen());
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
          "patch core/events",
          // JOSDK's start-up permission check demands it; fabric8's LeaseLock patches instead
          "update coordination.k8s.io/leases");

  static EgressPlan plan(KubernetesClient c, String node) {
    return c.resources(EgressPlan.class).withName(node).get();
  }

  static void seed(KubernetesClient c) {
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
}
