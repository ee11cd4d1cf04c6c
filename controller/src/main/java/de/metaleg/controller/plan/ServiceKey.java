package de.metaleg.controller.plan;

import java.util.Comparator;

/**
 * A Service as namespace and name. Ordered by namespace, then name: the order of plan entries and
 * the tie-break when a pod is an endpoint of two labelled Services.
 */
public record ServiceKey(String namespace, String name) implements Comparable<ServiceKey> {
  private static final Comparator<ServiceKey> ORDER =
      Comparator.comparing(ServiceKey::namespace).thenComparing(ServiceKey::name);

  public ServiceKey {
    if (namespace == null || namespace.isEmpty() || name == null || name.isEmpty()) {
      throw new IllegalArgumentException("service key needs namespace and name");
    }
  }

  @Override
  public int compareTo(ServiceKey o) {
    return ORDER.compare(this, o);
  }

  /** {@code namespace/name}, as plan entries and Events spell it. */
  @Override
  public String toString() {
    return namespace + "/" + name;
  }
}
