package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import de.metaleg.controller.ControllerConfig;
import de.metaleg.controller.k8s.Adapter;
import de.metaleg.controller.plan.AnnouncerInfo;
import de.metaleg.controller.plan.EndpointInput;
import de.metaleg.controller.plan.NodeInfo;
import de.metaleg.controller.plan.ServiceInput;
import de.metaleg.controller.plan.ServiceKey;
import de.metaleg.lab.Cluster.Endpoint;
import de.metaleg.lab.Cluster.ServiceRef;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.net.InetAddress;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The lab itself, not the product: its API server ({@link LocalApiServer}) and its fixtures ({@link
 * Cluster}, which plays kubelet, the endpointslice controller and MetalLB), over real HTTP and
 * WebSocket. The API server must do what the controller and agents rely on (CRDs registered with
 * the status subresource, generateName, watches), and the fixtures must mean to the product what
 * the e2e scenarios say they mean: {@link #theControllerReadsTheFixturesAsTheScenariosMeanThem}
 * reads them through the controller's snapshot adapter. IPs as in docs/lab.md.
 */
class LabFixturesMockTest {
  static LocalApiServer server;
  static KubernetesClient client;
  static Cluster cluster;
  static final ServiceRef SVC = new ServiceRef("default", "web");

  @BeforeAll
  static void start() throws Exception {
    server = LocalApiServer.start(InetAddress.getLoopbackAddress(), 0);
    client =
        new KubernetesClientBuilder()
            .withConfig(new ConfigBuilder().withMasterUrl(server.uri().toString()).build())
            .build();
    cluster = new Cluster(client, "metallb-system");
  }

  @AfterAll
  static void stop() {
    client.close();
    server.close();
  }

  @Test
  void serviceFixtureCarriesLbIngressEndpointSlicesAndLabel() {
    ServiceRef ref = new ServiceRef("default", "fixture");
    cluster.createService(
        ref,
        true,
        "198.51.100.10",
        "2001:db8:51::10",
        List.of(new Endpoint("p1", "node-1", "10.244.1.10", "fd44:0:0:1::10")));
    Service svc = client.services().inNamespace("default").withName("fixture").get();
    assertEquals("LoadBalancer", svc.getSpec().getType());
    assertEquals(
        List.of("198.51.100.10", "2001:db8:51::10"),
        svc.getStatus().getLoadBalancer().getIngress().stream().map(i -> i.getIp()).toList());
    assertEquals("true", svc.getMetadata().getLabels().get(EgressPlan.SERVICE_OPT_IN_LABEL));
    List<EndpointSlice> slices = slicesOf("fixture");
    assertEquals(2, slices.size());
    assertTrue(
        slices.stream().allMatch(s -> "node-1".equals(s.getEndpoints().get(0).getNodeName())));

    cluster.setOptIn(ref, false);
    assertNull(
        client
            .services()
            .inNamespace("default")
            .withName("fixture")
            .get()
            .getMetadata()
            .getLabels()
            .get(EgressPlan.SERVICE_OPT_IN_LABEL));
    cluster.deleteService(ref);
    assertNull(client.services().inNamespace("default").withName("fixture").get());
    assertTrue(
        client.discovery().v1().endpointSlices().inNamespace("default").list().getItems().stream()
            .noneMatch(s -> s.getMetadata().getName().startsWith("fixture-")));
  }

  @Test
  void l2StatusIsCreatedWithGeneratedNameThenStatusAndWatchSeesFailover() throws Exception {
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    SharedIndexInformer<ServiceL2Status> informer =
        client
            .resources(ServiceL2Status.class)
            .inNamespace("metallb-system")
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(ServiceL2Status s) {
                    events.add("add " + node(s));
                  }

                  @Override
                  public void onUpdate(ServiceL2Status o, ServiceL2Status s) {
                    events.add("update " + node(s));
                  }

                  @Override
                  public void onDelete(ServiceL2Status s, boolean unknown) {
                    events.add("delete " + node(s));
                  }
                });
    try {
      ServiceL2Status first = cluster.createL2Status(SVC, "node-2");
      assertTrue(first.getMetadata().getName().startsWith("l2-"), first.getMetadata().getName());
      assertEquals("add null", events.poll(10, TimeUnit.SECONDS));
      assertEquals("update node-2", events.poll(10, TimeUnit.SECONDS));

      // A plain update must not touch status: the CRD's status subresource is in force.
      ServiceL2Status current = client.resource(first).get();
      current.getStatus().setNode("node-9");
      current.getMetadata().setLabels(new java.util.HashMap<>(current.getMetadata().getLabels()));
      current.getMetadata().getLabels().put("touched", "yes");
      client.resource(current).update();
      assertEquals("node-2", client.resource(first).get().getStatus().getNode());
      events.poll(10, TimeUnit.SECONDS); // the label update

      cluster.deleteL2Statuses(SVC);
      cluster.createL2Status(SVC, "node-3");
      assertEquals("delete node-2", events.poll(10, TimeUnit.SECONDS));
      assertEquals("add null", events.poll(10, TimeUnit.SECONDS));
      assertEquals("update node-3", events.poll(10, TimeUnit.SECONDS));
      assertEquals(1, cluster.l2Statuses(SVC).size());
    } finally {
      informer.close();
      cluster.deleteL2Statuses(SVC);
    }
  }

  @Test
  void egressPlanIsClusterScopedWithStatusSubresource() {
    EgressPlan plan = client.resource(EgressPlan.forNode("node-1", new EgressPlanSpec())).create();
    assertNull(plan.getMetadata().getNamespace());
    EgressPlanStatus status = new EgressPlanStatus();
    status.setObservedGeneration(plan.getMetadata().getGeneration());
    status.setConditions(
        List.of(
            new ConditionBuilder()
                .withType("Ready")
                .withStatus("True")
                .withReason("Programmed")
                .build()));
    plan.setStatus(status);
    client.resource(plan).updateStatus();
    EgressPlan read = cluster.plans().get(0);
    assertEquals("True", read.getStatus().getConditions().get(0).getStatus());
    assertEquals(read.getMetadata().getGeneration(), read.getStatus().getObservedGeneration());
    client.resource(read).delete();
  }

  @Test
  void discoveryListsTheCrdsForKubectl() throws Exception {
    var http = java.net.http.HttpClient.newHttpClient();
    String groups =
        http.send(
                java.net.http.HttpRequest.newBuilder(server.uri().resolve("/apis")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString())
            .body();
    assertTrue(groups.contains("\"groupVersion\":\"metaleg.de/v1alpha1\""), groups);
    assertTrue(groups.contains("\"groupVersion\":\"metallb.io/v1beta1\""), groups);
    String resources =
        http.send(
                java.net.http.HttpRequest.newBuilder(
                        server.uri().resolve("/apis/metaleg.de/v1alpha1"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString())
            .body();
    assertTrue(resources.contains("\"shortNames\":[\"egp\"]"), resources);
    assertTrue(resources.contains("\"name\":\"egressplans/status\""), resources);
  }

  @Test
  void theControllerReadsTheFixturesAsTheScenariosMeanThem() {
    ServiceRef ref = new ServiceRef("default", "read");
    ServiceKey key = new ServiceKey("default", "read");
    cluster.upsertNode("node-2", "10.89.0.12", "fd89::12");
    cluster.createService(
        ref,
        true,
        "198.51.100.10",
        "2001:db8:51::10",
        List.of(new Endpoint("p1", "node-1", "10.244.1.10", "fd44:0:0:1::10")));
    ServiceL2Status announcing = cluster.createL2Status(ref, "node-2");
    try {
      assertEquals(
          new ServiceInput(key, true, "LoadBalancer", List.of("198.51.100.10", "2001:db8:51::10")),
          Adapter.service(client.services().inNamespace("default").withName("read").get()));

      List<EndpointSlice> slices = slicesOf("read");
      assertEquals(2, slices.size(), "one slice per family, found by the controller's label");
      assertEquals(
          List.of(
              new EndpointInput("10.244.1.10", "node-1", "p1"),
              new EndpointInput("fd44:0:0:1::10", "node-1", "p1")),
          slices.stream()
              .peek(s -> assertEquals(Optional.of(key), Adapter.sliceService(s)))
              .flatMap(s -> Adapter.endpoints(s).stream())
              .sorted(Comparator.comparing(EndpointInput::address))
              .toList());

      NodeInfo node = Adapter.node(client.nodes().withName("node-2").get());
      assertEquals("node-2", node.name());
      assertEquals(Optional.of("10.89.0.12"), node.internalIPv4().map(Object::toString));
      assertEquals(Optional.of("fd89::12"), node.internalIPv6().map(Object::toString));
      assertEquals(
          List.of("10.89.0.12", "fd89::12"),
          node.addresses().stream().map(Object::toString).sorted().toList(),
          "both InternalIPs count as the node's addresses");

      // the controller's default MetalLB namespace is the one the lab writes into
      String metallb = ControllerConfig.fromEnv(Map.of()).metallbNamespace();
      AnnouncerInfo full = Adapter.announcer(client.resource(announcing).get());
      assertEquals(Optional.of(key), full.service(metallb));
      assertEquals(Optional.of("node-2"), full.node());
      // MetalLB's first half-write (labels, no status yet) already names Service and node
      AnnouncerInfo half = Adapter.announcer(cluster.createL2StatusWithoutNode(ref, "node-3"));
      assertNull(half.statusNode());
      assertEquals(Optional.of(key), half.service(metallb));
      assertEquals(Optional.of("node-3"), half.node());
    } finally {
      cluster.deleteL2Statuses(ref);
      cluster.deleteService(ref);
      cluster.deleteNode("node-2");
    }
  }

  /** The EndpointSlices of default/{@code service}, by the label the controller selects on. */
  private static List<EndpointSlice> slicesOf(String service) {
    return client
        .discovery()
        .v1()
        .endpointSlices()
        .inNamespace("default")
        .withLabel(Adapter.SLICE_SERVICE_LABEL, service)
        .list()
        .getItems();
  }

  private static String node(ServiceL2Status s) {
    return s.getStatus() == null ? null : s.getStatus().getNode();
  }
}
