package de.metaleg.controller.plan;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Everything the planner reads, as immutable records: the informer caches at one moment, plus what
 * the controller remembers about gateways and the time it planned at.
 *
 * @param endpoints endpoint addresses per Service (all EndpointSlices of the Service together)
 * @param gateways the gateway memory (last announced node, since when it is missing)
 * @param now the moment of planning: decides whether a remembered gateway still counts
 */
public record Snapshot(
    PlannerConfig config,
    Map<String, NodeInfo> nodes,
    List<ServiceInput> services,
    Map<ServiceKey, List<EndpointInput>> endpoints,
    List<AnnouncerInfo> announcers,
    GatewayMemory gateways,
    Instant now) {
  public Snapshot {
    nodes = Map.copyOf(nodes);
    services = List.copyOf(services);
    endpoints = Map.copyOf(endpoints);
    announcers = List.copyOf(announcers);
  }

  /** The caches alone: no gateway is remembered. */
  public Snapshot(
      PlannerConfig config,
      Map<String, NodeInfo> nodes,
      List<ServiceInput> services,
      Map<ServiceKey, List<EndpointInput>> endpoints,
      List<AnnouncerInfo> announcers) {
    this(config, nodes, services, endpoints, announcers, GatewayMemory.EMPTY, Instant.EPOCH);
  }
}
