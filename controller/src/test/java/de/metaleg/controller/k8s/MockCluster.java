package de.metaleg.controller.k8s;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.metallb.ServiceL2StatusStatus;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.testing.CrudApiServer;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * fabric8's mock API server in CRUD mode with the EgressPlan CRD (from config/crd) and a
 * ServiceL2Status CRD with status subresource, plus builders for the objects the controller reads.
 * Node N has InternalIPs 192.0.2.N and 2001:db8::N; LB IPs are 198.51.100.x; pods 10.0.N.x.
 */
public final class MockCluster implements AutoCloseable {
  final KubernetesMockServer server;
  final KubernetesClient client;

  MockCluster() throws Exception {
    server = CrudApiServer.start("default", "metallb-system", "app");
    client = server.createClient();
  }

  /** MetalLB's ServiceL2Status CRD (the lab's, written from MetalLB's schema). */
  public static CustomResourceDefinition l2Crd() {
    return CrudApiServer.crd(CrudApiServer.SERVICEL2STATUS_CRD);
  }

  Node node(int n) {
    return client
        .nodes()
        .resource(
            new NodeBuilder()
                .withNewMetadata()
                .withName("node-" + n)
                .withUid("uid-node-" + n)
                .endMetadata()
                .withNewStatus()
                .addNewAddress()
                .withType("InternalIP")
                .withAddress("192.0.2." + n)
                .endAddress()
                .addNewAddress()
                .withType("InternalIP")
                .withAddress("2001:db8::" + n)
                .endAddress()
                .endStatus()
                .build())
        .create();
  }

  /** A labelled LoadBalancer Service in namespace app with its LB IP in status. */
  Service service(String name, String lbIP, String type) {
    Service s =
        new ServiceBuilder()
            .withNewMetadata()
            .withNamespace("app")
            .withName(name)
            .addToLabels(EgressPlan.SERVICE_OPT_IN_LABEL, "true")
            .endMetadata()
            .withNewSpec()
            .withType(type)
            .endSpec()
            .build();
    Service created = client.resource(s).create();
    created.setStatus(
        new io.fabric8.kubernetes.api.model.ServiceStatusBuilder()
            .withNewLoadBalancer()
            .addNewIngress()
            .withIp(lbIP)
            .endIngress()
            .endLoadBalancer()
            .build());
    return client.resource(created).updateStatus();
  }

  /** The slice {@code <service>-1} with one endpoint per {@code ip@node} pair. */
  EndpointSlice slice(String service, String... ipAtNode) {
    EndpointSliceBuilder b =
        new EndpointSliceBuilder()
            .withNewMetadata()
            .withNamespace("app")
            .withName(service + "-1")
            .addToLabels("kubernetes.io/service-name", service)
            .endMetadata()
            .withAddressType("IPv4");
    for (String s : ipAtNode) {
      String[] p = s.split("@");
      b.addNewEndpoint()
          .withAddresses(p[0])
          .withNodeName(p[1])
          .withNewTargetRef()
          .withKind("Pod")
          .withName("pod-" + p[0].replace('.', '-'))
          .withNamespace("app")
          .endTargetRef()
          .endEndpoint();
    }
    return client.resource(b.build()).createOr(r -> r.update());
  }

  /** A current-shape ServiceL2Status in metallb-system naming {@code node} in its status. */
  ServiceL2Status announce(String objectName, String service, String node) {
    ServiceL2Status l2 = new ServiceL2Status();
    l2.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace("metallb-system")
            .withName(objectName)
            .addToLabels(ServiceL2Status.LABEL_SERVICE_NAME, service)
            .addToLabels(ServiceL2Status.LABEL_SERVICE_NAMESPACE, "app")
            .build());
    ServiceL2Status created = client.resource(l2).create();
    ServiceL2StatusStatus st = new ServiceL2StatusStatus();
    st.setNode(node);
    created.setStatus(st);
    return client.resource(created).updateStatus();
  }

  EgressPlan plan(String node) {
    return client.resources(EgressPlan.class).withName(node).get();
  }

  static void await(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      if (condition.getAsBoolean()) {
        return;
      }
      sleep(50);
    }
    throw new AssertionError("timed out waiting for: " + what);
  }

  static <T> T await(String what, Supplier<T> value, java.util.function.Predicate<T> ok) {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    T last = null;
    while (System.nanoTime() < deadline) {
      last = value.get();
      if (ok.test(last)) {
        return last;
      }
      sleep(50);
    }
    throw new AssertionError("timed out waiting for: " + what + "; last value: " + last);
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    client.close();
    server.destroy();
  }
}
