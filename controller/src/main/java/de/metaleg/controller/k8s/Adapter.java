package de.metaleg.controller.k8s;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.common.net.IpAddress;
import de.metaleg.controller.plan.AnnouncerInfo;
import de.metaleg.controller.plan.EndpointInput;
import de.metaleg.controller.plan.NodeInfo;
import de.metaleg.controller.plan.ServiceInput;
import de.metaleg.controller.plan.ServiceKey;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LoadBalancerIngress;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The snapshot adapter: the only place that reads fabric8 model objects and turns them into the
 * planner's records. Unparseable fields become "absent", never exceptions; the planner reports what
 * it cannot use.
 */
public final class Adapter {
  /** Label EndpointSlices carry to name their Service. */
  public static final String SLICE_SERVICE_LABEL = "kubernetes.io/service-name";

  private Adapter() {}

  public static ServiceKey key(HasMetadata o) {
    return new ServiceKey(o.getMetadata().getNamespace(), o.getMetadata().getName());
  }

  public static boolean labelled(HasMetadata o) {
    return "true".equals(labels(o).get(EgressPlan.SERVICE_OPT_IN_LABEL));
  }

  public static ServiceInput service(Service s) {
    List<String> ips = new ArrayList<>();
    if (s.getStatus() != null
        && s.getStatus().getLoadBalancer() != null
        && s.getStatus().getLoadBalancer().getIngress() != null) {
      for (LoadBalancerIngress ingress : s.getStatus().getLoadBalancer().getIngress()) {
        if (ingress.getIp() != null && !ingress.getIp().isEmpty()) {
          ips.add(ingress.getIp());
        }
      }
    }
    String type =
        s.getSpec() == null || s.getSpec().getType() == null ? "ClusterIP" : s.getSpec().getType();
    return new ServiceInput(key(s), labelled(s), type, ips);
  }

  /** The Service an EndpointSlice belongs to, from its {@code kubernetes.io/service-name} label. */
  public static Optional<ServiceKey> sliceService(EndpointSlice slice) {
    String name = labels(slice).get(SLICE_SERVICE_LABEL);
    if (name == null || name.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new ServiceKey(slice.getMetadata().getNamespace(), name));
  }

  /** All addresses of all endpoints, ready or not: a starting pod must already egress right. */
  public static List<EndpointInput> endpoints(EndpointSlice slice) {
    if (slice.getEndpoints() == null || "FQDN".equals(slice.getAddressType())) {
      return List.of();
    }
    List<EndpointInput> out = new ArrayList<>();
    for (Endpoint e : slice.getEndpoints()) {
      ObjectReference ref = e.getTargetRef();
      String pod = ref != null && "Pod".equals(ref.getKind()) ? ref.getName() : null;
      if (e.getAddresses() != null) {
        e.getAddresses().forEach(a -> out.add(new EndpointInput(a, e.getNodeName(), pod)));
      }
    }
    return out;
  }

  public static NodeInfo node(Node n) {
    Optional<IpAddress> v4 = Optional.empty();
    Optional<IpAddress> v6 = Optional.empty();
    Set<IpAddress> all = new HashSet<>();
    List<NodeAddress> addresses =
        n.getStatus() == null || n.getStatus().getAddresses() == null
            ? List.of()
            : n.getStatus().getAddresses();
    for (NodeAddress a : addresses) {
      boolean internal = "InternalIP".equals(a.getType());
      if (!internal && !"ExternalIP".equals(a.getType())) {
        continue;
      }
      Optional<IpAddress> ip = IpAddress.parse(a.getAddress());
      if (ip.isEmpty()) {
        continue;
      }
      all.add(ip.get());
      if (internal && ip.get().isV4() && v4.isEmpty()) {
        v4 = ip;
      } else if (internal && !ip.get().isV4() && v6.isEmpty()) {
        v6 = ip;
      }
    }
    return new NodeInfo(n.getMetadata().getName(), v4, v6, all);
  }

  public static AnnouncerInfo announcer(ServiceL2Status l2) {
    Map<String, String> labels = labels(l2);
    String statusNode = l2.getStatus() == null ? null : l2.getStatus().getNode();
    return new AnnouncerInfo(
        l2.getMetadata().getNamespace(),
        l2.getMetadata().getName(),
        created(l2),
        labels.get(ServiceL2Status.LABEL_SERVICE_NAME),
        labels.get(ServiceL2Status.LABEL_SERVICE_NAMESPACE),
        labels.get(ServiceL2Status.LEGACY_LABEL_SERVICE),
        statusNode,
        labels.get(ServiceL2Status.LABEL_NODE));
  }

  public static String id(HasMetadata o) {
    return o.getMetadata().getNamespace() + "/" + o.getMetadata().getName();
  }

  private static Instant created(HasMetadata o) {
    String ts = o.getMetadata().getCreationTimestamp();
    if (ts == null) {
      return null;
    }
    try {
      return Instant.parse(ts);
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  private static Map<String, String> labels(HasMetadata o) {
    Map<String, String> l = o.getMetadata().getLabels();
    return l == null ? Map.of() : l;
  }
}
