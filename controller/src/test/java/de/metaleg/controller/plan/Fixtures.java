package de.metaleg.controller.plan;

import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.common.net.IpAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Builds planner snapshots tersely and renders plans as one line per entry.
 *
 * <p>Address conventions: node InternalIPs 192.0.2.N and 2001:db8::N (RFC 5737/3849, N = node
 * number), LB IPs 198.51.100.x and 2001:db8:100::x, pod IPs 10.0.N.x and fd00:N::x (N = node the
 * pod runs on).
 */
final class Fixtures {
  static final String METALLB = "metallb-system";

  private final Map<String, NodeInfo> nodes = new LinkedHashMap<>();
  private final List<ServiceInput> services = new ArrayList<>();
  private final Map<ServiceKey, List<EndpointInput>> endpoints = new LinkedHashMap<>();
  private final List<AnnouncerInfo> announcers = new ArrayList<>();
  private boolean filter = true;
  private java.time.Duration grace = java.time.Duration.ZERO;

  static Fixtures cluster() {
    return new Fixtures();
  }

  static ServiceKey key(String nsName) {
    String[] p = nsName.split("/");
    return new ServiceKey(p[0], p[1]);
  }

  /** A node with the given InternalIPs (either family). */
  Fixtures node(String name, String... internalIPs) {
    Optional<IpAddress> v4 = Optional.empty();
    Optional<IpAddress> v6 = Optional.empty();
    Set<IpAddress> all = new HashSet<>();
    for (String s : internalIPs) {
      IpAddress ip = IpAddress.parse(s).orElseThrow();
      all.add(ip);
      if (ip.isV4() && v4.isEmpty()) {
        v4 = Optional.of(ip);
      } else if (!ip.isV4() && v6.isEmpty()) {
        v6 = Optional.of(ip);
      }
    }
    nodes.put(name, new NodeInfo(name, v4, v6, all));
    return this;
  }

  /** The three standard dual-stack nodes node-1..node-3. */
  Fixtures threeNodes() {
    return node("node-1", "192.0.2.1", "2001:db8::1")
        .node("node-2", "192.0.2.2", "2001:db8::2")
        .node("node-3", "192.0.2.3", "2001:db8::3");
  }

  /** A labelled LoadBalancer Service with these ingress IPs. */
  Fixtures svc(String nsName, String... ingressIPs) {
    services.add(new ServiceInput(key(nsName), true, "LoadBalancer", List.of(ingressIPs)));
    return this;
  }

  Fixtures svcOfType(String nsName, String type) {
    services.add(new ServiceInput(key(nsName), true, type, List.of()));
    return this;
  }

  Fixtures unlabelledSvc(String nsName, String... ingressIPs) {
    services.add(new ServiceInput(key(nsName), false, "LoadBalancer", List.of(ingressIPs)));
    return this;
  }

  /** An endpoint address on a node (null: the slice names no node). */
  Fixtures ep(String nsName, String address, String node) {
    return ep(nsName, address, node, null);
  }

  Fixtures ep(String nsName, String address, String node, String pod) {
    endpoints
        .computeIfAbsent(key(nsName), k -> new ArrayList<>())
        .add(new EndpointInput(address, node, pod));
    return this;
  }

  /** A current-shape ServiceL2Status in metallb-system whose status names the node. */
  Fixtures l2(String nsName, String node) {
    return l2(nsName, "l2-" + key(nsName).name(), Instant.parse("2026-01-01T00:00:00Z"), node);
  }

  Fixtures l2(String nsName, String objectName, Instant created, String node) {
    ServiceKey k = key(nsName);
    announcers.add(
        new AnnouncerInfo(METALLB, objectName, created, k.name(), k.namespace(), null, node, null));
    return this;
  }

  Fixtures announcer(AnnouncerInfo a) {
    announcers.add(a);
    return this;
  }

  /** A label-only ServiceL2Status (MetalLB just created it; status.node not written yet). */
  Fixtures l2LabelOnly(String nsName, String objectName, Instant created, String node) {
    ServiceKey k = key(nsName);
    announcers.add(
        new AnnouncerInfo(METALLB, objectName, created, k.name(), k.namespace(), null, null, node));
    return this;
  }

  Fixtures unfiltered() {
    filter = false;
    return this;
  }

  Fixtures grace(java.time.Duration d) {
    grace = d;
    return this;
  }

  Snapshot snapshot() {
    return snapshot(GatewayMemory.EMPTY, Instant.EPOCH);
  }

  /** The cluster as planned at {@code now} with what the previous planning remembered. */
  Snapshot snapshot(GatewayMemory memory, Instant now) {
    return new Snapshot(
        new PlannerConfig(METALLB, filter, grace),
        nodes,
        services,
        endpoints,
        announcers,
        memory,
        now);
  }

  /** All non-empty plans, one line per entry: {@code node service role/reason ...}. */
  static List<String> render(Map<String, EgressPlanSpec> plans) {
    List<String> lines = new ArrayList<>();
    plans.forEach((node, spec) -> spec.getEntries().forEach(e -> lines.add(render(node, e))));
    return lines;
  }

  static String render(String node, EgressEntry e) {
    StringBuilder sb = new StringBuilder();
    sb.append(node).append(' ').append(e.getService()).append(' ');
    sb.append(e.getRole()).append('/').append(e.getReason());
    if (e.getGatewayNode() != null) {
      sb.append(" gw=").append(e.getGatewayNode());
    }
    if (e.getSnatIPv4() != null) {
      sb.append(" | v4 snat=").append(e.getSnatIPv4());
      if (e.getGatewayIPv4() != null) {
        sb.append(" via=").append(e.getGatewayIPv4());
      }
      sb.append(" src=").append(String.join(",", e.getSourceIPv4s()));
    }
    if (e.getSnatIPv6() != null) {
      sb.append(" | v6 snat=").append(e.getSnatIPv6());
      if (e.getGatewayIPv6() != null) {
        sb.append(" via=").append(e.getGatewayIPv6());
      }
      sb.append(" src=").append(String.join(",", e.getSourceIPv6s()));
    }
    return sb.toString();
  }
}
