package de.metaleg.controller.plan;

import java.util.List;
import java.util.Map;

/**
 * Everything the planner reads, as immutable records: the informer caches at one moment.
 *
 * @param endpoints endpoint addresses per Service (all EndpointSlices of the Service together)
 */
public record Snapshot(
    PlannerConfig config,
    Map<String, NodeInfo> nodes,
    List<ServiceInput> services,
    Map<ServiceKey, List<EndpointInput>> endpoints,
    List<AnnouncerInfo> announcers) {
  public Snapshot {
    nodes = Map.copyOf(nodes);
    services = List.copyOf(services);
    endpoints = Map.copyOf(endpoints);
    announcers = List.copyOf(announcers);
  }
}
