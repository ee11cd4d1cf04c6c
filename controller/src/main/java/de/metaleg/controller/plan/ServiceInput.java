package de.metaleg.controller.plan;

import java.util.List;

/**
 * A Service as the planner sees it: whether it carries {@code metaleg.de/rewriteSrcIP: "true"}, its
 * {@code spec.type} and the {@code ip} of each {@code status.loadBalancer.ingress[]} entry
 * (unparsed: the planner reports malformed ones).
 */
public record ServiceInput(ServiceKey key, boolean labelled, String type, List<String> ingressIPs) {
  public ServiceInput {
    ingressIPs = List.copyOf(ingressIPs);
  }
}
