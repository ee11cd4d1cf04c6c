package de.metaleg.lab;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.metallb.ServiceL2StatusStatus;
import de.metaleg.api.v1alpha1.EgressPlan;
import io.fabric8.kubernetes.api.model.LoadBalancerIngressBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddressBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;

/**
 * Cluster fixtures against the lab's API server: Nodes, a LoadBalancer Service with its
 * EndpointSlices, the opt-in label, and MetalLB's ServiceL2Status written the way MetalLB's speaker
 * writes it (create, then status through the status subresource).
 */
public final class Cluster {
  public record ServiceRef(String namespace, String name) {
    @Override
    public String toString() {
      return namespace + "/" + name;
    }
  }

  /** One endpoint pod: its addresses and the node it runs on. */
  public record Endpoint(String podName, String node, String ipv4, String ipv6) {}

  private final KubernetesClient client;
  private final String metallbNamespace;

  public Cluster(KubernetesClient client, String metallbNamespace) {
    this.client = client;
    this.metallbNamespace = metallbNamespace;
  }

  public KubernetesClient client() {
    return client;
  }

  /**
   * Creates or replaces a Node with InternalIP addresses of both families ({@code null} leaves a
   * family out, like a node whose kubelet reports no IPv6 address).
   */
  public void upsertNode(String name, String ipv4, String ipv6) {
    List<io.fabric8.kubernetes.api.model.NodeAddress> addresses = new java.util.ArrayList<>();
    if (ipv4 != null) {
      addresses.add(new NodeAddressBuilder().withType("InternalIP").withAddress(ipv4).build());
    }
    if (ipv6 != null) {
      addresses.add(new NodeAddressBuilder().withType("InternalIP").withAddress(ipv6).build());
    }
    addresses.add(new NodeAddressBuilder().withType("Hostname").withAddress(name).build());
    Node node =
        new NodeBuilder()
            .withNewMetadata()
            .withName(name)
            .withLabels(Map.of("kubernetes.io/hostname", name))
            .endMetadata()
            .withNewStatus()
            .withAddresses(addresses)
            .endStatus()
            .build();
    client.nodes().resource(node).createOr(existing -> existing.update());
    client.nodes().resource(node).updateStatus();
  }

  /**
   * A dual-stack {@code type: LoadBalancer} Service whose LB IPs MetalLB has assigned (written to
   * {@code status.loadBalancer.ingress} through the status subresource), and one EndpointSlice per
   * family listing the endpoint pods with their nodes.
   */
  public void createService(
      ServiceRef ref, boolean optIn, String lbIPv4, String lbIPv6, List<Endpoint> endpoints) {
    Service svc =
        new ServiceBuilder()
            .withNewMetadata()
            .withNamespace(ref.namespace())
            .withName(ref.name())
            .withLabels(optIn ? Map.of(EgressPlan.SERVICE_OPT_IN_LABEL, "true") : Map.of())
            .endMetadata()
            .withNewSpec()
            .withType("LoadBalancer")
            .withIpFamilies("IPv4", "IPv6")
            .withIpFamilyPolicy("RequireDualStack")
            .withSelector(Map.of("app", ref.name()))
            .addNewPort()
            .withName("http")
            .withPort(80)
            .withProtocol("TCP")
            .endPort()
            .endSpec()
            .build();
    client.services().resource(svc).create();
    Service created = client.services().inNamespace(ref.namespace()).withName(ref.name()).get();
    created.setStatus(null);
    created =
        new ServiceBuilder(created)
            .withNewStatus()
            .withNewLoadBalancer()
            .withIngress(
                new LoadBalancerIngressBuilder().withIp(lbIPv4).withIpMode("VIP").build(),
                new LoadBalancerIngressBuilder().withIp(lbIPv6).withIpMode("VIP").build())
            .endLoadBalancer()
            .endStatus()
            .build();
    client.services().resource(created).updateStatus();
    client.resource(endpointSlice(ref, "IPv4", endpoints)).create();
    client.resource(endpointSlice(ref, "IPv6", endpoints)).create();
  }

  static EndpointSlice endpointSlice(ServiceRef ref, String family, List<Endpoint> endpoints) {
    return new EndpointSliceBuilder()
        .withMetadata(
            new ObjectMetaBuilder()
                .withNamespace(ref.namespace())
                .withName(ref.name() + "-" + family.toLowerCase())
                .withLabels(
                    Map.of(
                        "kubernetes.io/service-name",
                        ref.name(),
                        "endpointslice.kubernetes.io/managed-by",
                        "endpointslice-controller.k8s.io"))
                .build())
        .withAddressType(family)
        .addNewPort()
        .withName("http")
        .withPort(80)
        .withProtocol("TCP")
        .endPort()
        .withEndpoints(
            endpoints.stream()
                .map(
                    e ->
                        new EndpointBuilder()
                            .withAddresses(family.equals("IPv4") ? e.ipv4() : e.ipv6())
                            .withNodeName(e.node())
                            .withNewConditions()
                            .withReady(true)
                            .withServing(true)
                            .withTerminating(false)
                            .endConditions()
                            .withNewTargetRef()
                            .withKind("Pod")
                            .withNamespace(ref.namespace())
                            .withName(e.podName())
                            .endTargetRef()
                            .build())
                .toList())
        .build();
  }

  /** Sets or removes the opt-in label (JSON merge patch via edit). */
  public void setOptIn(ServiceRef ref, boolean optIn) {
    client
        .services()
        .inNamespace(ref.namespace())
        .withName(ref.name())
        .edit(
            s -> {
              if (optIn) {
                s.getMetadata().getLabels().put(EgressPlan.SERVICE_OPT_IN_LABEL, "true");
              } else {
                s.getMetadata().getLabels().remove(EgressPlan.SERVICE_OPT_IN_LABEL);
              }
              return s;
            });
  }

  /** Deletes the Service and its EndpointSlices (what the endpointslice controller would do). */
  public void deleteService(ServiceRef ref) {
    client.services().inNamespace(ref.namespace()).withName(ref.name()).delete();
    client
        .discovery()
        .v1()
        .endpointSlices()
        .inNamespace(ref.namespace())
        .withLabel("kubernetes.io/service-name", ref.name())
        .delete();
  }

  /**
   * MetalLB's ServiceL2Status objects for a Service, by status or, for an object whose status is
   * not written yet, by its {@code metallb.io/service-*} labels.
   */
  public List<ServiceL2Status> l2Statuses(ServiceRef ref) {
    return client
        .resources(ServiceL2Status.class)
        .inNamespace(metallbNamespace)
        .list()
        .getItems()
        .stream()
        .filter(s -> isFor(s, ref))
        .toList();
  }

  private static boolean isFor(ServiceL2Status s, ServiceRef ref) {
    if (s.getStatus() != null && s.getStatus().getServiceName() != null) {
      return ref.name().equals(s.getStatus().getServiceName())
          && ref.namespace().equals(s.getStatus().getServiceNamespace());
    }
    Map<String, String> labels = s.getMetadata().getLabels();
    return labels != null
        && ref.name().equals(labels.get(ServiceL2Status.LABEL_SERVICE_NAME))
        && ref.namespace().equals(labels.get(ServiceL2Status.LABEL_SERVICE_NAMESPACE));
  }

  /**
   * What MetalLB's speaker does when it starts announcing: create a ServiceL2Status (generated
   * {@code l2-} name), then write its status through the status subresource.
   */
  public ServiceL2Status createL2Status(ServiceRef ref, String node) {
    return writeL2StatusNode(createL2StatusWithoutNode(ref, node), ref, node);
  }

  /**
   * The first half of MetalLB's (>= 0.14.6) write: the object with its labels (including {@code
   * metallb.io/node}) but no status yet.
   */
  public ServiceL2Status createL2StatusWithoutNode(ServiceRef ref, String node) {
    ServiceL2Status l2 = new ServiceL2Status();
    l2.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(metallbNamespace)
            .withGenerateName("l2-")
            .withLabels(
                Map.of(
                    ServiceL2Status.LABEL_NODE, node,
                    ServiceL2Status.LABEL_SERVICE_NAME, ref.name(),
                    ServiceL2Status.LABEL_SERVICE_NAMESPACE, ref.namespace()))
            .build());
    return client.resource(l2).create();
  }

  /** The second half: {@code status.node} and the rest through the status subresource. */
  public ServiceL2Status writeL2StatusNode(ServiceL2Status created, ServiceRef ref, String node) {
    ServiceL2StatusStatus status = new ServiceL2StatusStatus();
    status.setNode(node);
    status.setServiceName(ref.name());
    status.setServiceNamespace(ref.namespace());
    status.setInterfaces(List.of(new ServiceL2StatusStatus.InterfaceInfo("eth0")));
    created.setStatus(status);
    return client.resource(created).updateStatus();
  }

  /** What MetalLB does when a speaker stops announcing: the status object goes away. */
  public void deleteL2Statuses(ServiceRef ref) {
    for (ServiceL2Status s : l2Statuses(ref)) {
      client.resource(s).delete();
    }
  }

  /** Deletes a Node object (as `kubectl delete node` does; the kubelet stays away). */
  public void deleteNode(String name) {
    client.nodes().withName(name).delete();
  }

  /** Replaces the EndpointSlices of both families with these endpoints. */
  public void setEndpoints(ServiceRef ref, List<Endpoint> endpoints) {
    for (String family : List.of("IPv4", "IPv6")) {
      client.resource(endpointSlice(ref, family, endpoints)).update();
    }
  }

  public List<EgressPlan> plans() {
    return client.resources(EgressPlan.class).list().getItems();
  }
}
