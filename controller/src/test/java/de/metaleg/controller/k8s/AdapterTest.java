package de.metaleg.controller.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.common.net.IpAddress;
import de.metaleg.controller.plan.AnnouncerInfo;
import de.metaleg.controller.plan.EndpointInput;
import de.metaleg.controller.plan.NodeInfo;
import de.metaleg.controller.plan.ServiceInput;
import de.metaleg.controller.plan.ServiceKey;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** fabric8 objects (as YAML, the way kubectl shows them) to planner records. */
class AdapterTest {
  static <T> T yaml(String text, Class<T> type) {
    return Serialization.unmarshal(text, type);
  }

  @Test
  void serviceTakesEveryIngressIpAndTheLabel() {
    Service s =
        yaml(
            """
            metadata: {namespace: app, name: web, labels: {metaleg.de/rewriteSrcIP: "true"}}
            spec: {type: LoadBalancer}
            status:
              loadBalancer:
                ingress: [{ip: 198.51.100.10}, {hostname: lb.example.com}, {ip: "2001:db8::10"}]
            """,
            Service.class);
    assertEquals(
        new ServiceInput(
            new ServiceKey("app", "web"),
            true,
            "LoadBalancer",
            List.of("198.51.100.10", "2001:db8::10")),
        Adapter.service(s));
    s.getMetadata().getLabels().put("metaleg.de/rewriteSrcIP", "yes");
    assertEquals(false, Adapter.service(s).labelled(), "only the value true opts in");
  }

  @Test
  void sliceTakesReadyAndNotReadyEndpointsWithNodeAndPod() {
    EndpointSlice slice =
        yaml(
            """
            metadata: {namespace: app, name: web-abc, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            endpoints:
            - addresses: [10.0.2.5]
              conditions: {ready: true}
              nodeName: node-2
              targetRef: {kind: Pod, name: web-1, namespace: app}
            - addresses: [10.0.3.5]
              conditions: {ready: false}
              nodeName: node-3
              targetRef: {kind: Pod, name: web-2, namespace: app}
            """,
            EndpointSlice.class);
    assertEquals(Optional.of(new ServiceKey("app", "web")), Adapter.sliceService(slice));
    assertEquals(
        List.of(
            new EndpointInput("10.0.2.5", "node-2", "web-1"),
            new EndpointInput("10.0.3.5", "node-3", "web-2")),
        Adapter.endpoints(slice));
    slice.setAddressType("FQDN");
    assertEquals(List.of(), Adapter.endpoints(slice), "FQDN slices carry no addresses to SNAT");
  }

  @Test
  void nodeKeepsFirstInternalIpPerFamilyAndAllAddresses() {
    Node n =
        yaml(
            """
            metadata: {name: node-1}
            status:
              addresses:
              - {type: Hostname, address: node-1}
              - {type: ExternalIP, address: 203.0.113.1}
              - {type: InternalIP, address: 192.0.2.1}
              - {type: InternalIP, address: 192.0.2.11}
              - {type: InternalIP, address: "2001:db8::1"}
            """,
            Node.class);
    IpAddress v4 = IpAddress.parse("192.0.2.1").get();
    IpAddress v6 = IpAddress.parse("2001:db8::1").get();
    assertEquals(
        new NodeInfo(
            "node-1",
            Optional.of(v4),
            Optional.of(v6),
            Set.of(
                v4, v6, IpAddress.parse("192.0.2.11").get(), IpAddress.parse("203.0.113.1").get())),
        Adapter.node(n));
  }

  @Test
  void serviceL2StatusInBothShapes() {
    ServiceL2Status current =
        yaml(
            """
            apiVersion: metallb.io/v1beta1
            kind: ServiceL2Status
            metadata:
              namespace: metallb-system
              name: l2-x7k2p
              creationTimestamp: "2026-01-02T03:04:05Z"
              labels: {metallb.io/node: node-1, metallb.io/service-name: web,
                       metallb.io/service-namespace: app}
            status: {node: node-1, serviceName: web, serviceNamespace: app}
            """,
            ServiceL2Status.class);
    AnnouncerInfo a = Adapter.announcer(current);
    assertEquals(Optional.of(new ServiceKey("app", "web")), a.service("metallb-system"));
    assertEquals(Optional.of("node-1"), a.node());
    assertEquals(Instant.parse("2026-01-02T03:04:05Z"), a.created());

    ServiceL2Status legacy =
        yaml(
            """
            apiVersion: metallb.io/v1beta1
            kind: ServiceL2Status
            metadata:
              namespace: app
              name: l2-abcde
              labels: {metallb.io/node: node-2, metallb.io/service: web}
            """,
            ServiceL2Status.class);
    AnnouncerInfo l = Adapter.announcer(legacy);
    assertEquals(Optional.of(new ServiceKey("app", "web")), l.service("metallb-system"));
    assertEquals(Optional.of("node-2"), l.node(), "empty status: the node label");
  }
}
