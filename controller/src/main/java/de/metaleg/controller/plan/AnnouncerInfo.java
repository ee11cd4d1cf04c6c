package de.metaleg.controller.plan;

import java.time.Instant;
import java.util.Optional;

/**
 * A MetalLB ServiceL2Status: which Service it is about (from its labels) and which node announces
 * (status.node, or the {@code metallb.io/node} label while the status is still empty).
 *
 * @param serviceName label {@code metallb.io/service-name} (MetalLB >= 0.14.6), may be null
 * @param serviceNamespace label {@code metallb.io/service-namespace}, may be null
 * @param legacyService label {@code metallb.io/service} (MetalLB 0.14.4-0.14.5), may be null
 * @param statusNode {@code status.node}, may be null
 * @param labelNode label {@code metallb.io/node}, may be null
 */
public record AnnouncerInfo(
    String namespace,
    String name,
    Instant created,
    String serviceName,
    String serviceNamespace,
    String legacyService,
    String statusNode,
    String labelNode) {

  /** {@code namespace/name} of the ServiceL2Status object itself. */
  public String id() {
    return namespace + "/" + name;
  }

  /** The announcing node, if the object names one. */
  public Optional<String> node() {
    if (statusNode != null && !statusNode.isEmpty()) {
      return Optional.of(statusNode);
    }
    return Optional.ofNullable(labelNode).filter(n -> !n.isEmpty());
  }

  /**
   * The Service this object is about: current MetalLB keeps the objects in its own namespace and
   * names the Service in two labels; 0.14.4-0.14.5 kept them in the Service's namespace with one
   * label naming the Service.
   */
  public Optional<ServiceKey> service(String metallbNamespace) {
    if (namespace.equals(metallbNamespace) && nonEmpty(serviceName) && nonEmpty(serviceNamespace)) {
      return Optional.of(new ServiceKey(serviceNamespace, serviceName));
    }
    if (nonEmpty(legacyService)) {
      return Optional.of(new ServiceKey(namespace, legacyService));
    }
    return Optional.empty();
  }

  private static boolean nonEmpty(String s) {
    return s != null && !s.isEmpty();
  }
}
