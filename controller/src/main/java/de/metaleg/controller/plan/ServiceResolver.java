package de.metaleg.controller.plan;

import de.metaleg.common.net.IpAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** Resolves one labelled Service: LB IPs, announcing node, endpoint addresses. Pure. */
public final class ServiceResolver {
  /** Event reasons the resolver uses. */
  public static final String NOT_LOAD_BALANCER = "NotLoadBalancer";

  public static final String NO_LOAD_BALANCER_IP = "NoLoadBalancerIP";
  public static final String INVALID_LOAD_BALANCER_IP = "InvalidLoadBalancerIP";
  public static final String INVALID_ENDPOINT_ADDRESS = "InvalidEndpointAddress";
  public static final String HOST_NETWORK_ENDPOINT = "HostNetworkEndpoint";
  public static final String MULTIPLE_ANNOUNCERS = "MultipleAnnouncers";

  /** Newest creationTimestamp first, then name: the announcer MetalLB most recently chose. */
  static final Comparator<AnnouncerInfo> ANNOUNCER_ORDER =
      Comparator.comparing(
              AnnouncerInfo::created,
              Comparator.nullsLast(Comparator.<java.time.Instant>reverseOrder()))
          .thenComparing(AnnouncerInfo::namespace)
          .thenComparing(AnnouncerInfo::name);

  private ServiceResolver() {}

  /**
   * @param announcers the ServiceL2Status objects that name this Service
   * @param nodeAddresses every node address, mapped to its node
   */
  public static ResolvedService resolve(
      ServiceInput svc,
      Collection<EndpointInput> endpoints,
      Collection<AnnouncerInfo> announcers,
      Map<IpAddress, String> nodeAddresses) {
    ServiceKey key = svc.key();
    if (!"LoadBalancer".equals(svc.type())) {
      return ResolvedService.unusable(
          key,
          Finding.warning(
              key,
              NOT_LOAD_BALANCER,
              "Service is type "
                  + svc.type()
                  + ", not LoadBalancer: no egress rules (metaleg.de/rewriteSrcIP needs a MetalLB"
                  + " LoadBalancer IP)"));
    }
    Optional<IpAddress> v4 = Optional.empty();
    Optional<IpAddress> v6 = Optional.empty();
    for (String text : svc.ingressIPs()) {
      Optional<IpAddress> ip = IpAddress.parse(text);
      if (ip.isEmpty()) {
        return ResolvedService.unusable(
            key,
            Finding.warning(
                key,
                INVALID_LOAD_BALANCER_IP,
                "status.loadBalancer.ingress has malformed IP \"" + text + "\": no egress rules"));
      }
      if (ip.get().isV4() && v4.isEmpty()) {
        v4 = ip;
      } else if (!ip.get().isV4() && v6.isEmpty()) {
        v6 = ip;
      }
    }
    if (v4.isEmpty() && v6.isEmpty()) {
      return ResolvedService.unusable(
          key,
          Finding.warning(
              key,
              NO_LOAD_BALANCER_IP,
              "no LoadBalancer IP in status.loadBalancer.ingress yet: no egress rules until MetalLB"
                  + " assigns one"));
    }
    List<Finding> findings = new ArrayList<>();
    Optional<String> gateway = chooseGateway(key, announcers, findings);
    List<Source> sources = sources(key, endpoints, nodeAddresses, findings);
    return new ResolvedService(key, true, v4, v6, gateway, sources, findings);
  }

  private static Optional<String> chooseGateway(
      ServiceKey key, Collection<AnnouncerInfo> announcers, List<Finding> findings) {
    List<AnnouncerInfo> naming =
        announcers.stream().filter(a -> a.node().isPresent()).sorted(ANNOUNCER_ORDER).toList();
    if (naming.isEmpty()) {
      return Optional.empty();
    }
    AnnouncerInfo chosen = naming.get(0);
    if (naming.size() > 1) {
      List<String> all =
          naming.stream().map(a -> a.id() + " on " + a.node().get()).sorted().toList();
      findings.add(
          Finding.warning(
              key,
              MULTIPLE_ANNOUNCERS,
              naming.size()
                  + " ServiceL2Status objects announce this Service ("
                  + String.join(", ", all)
                  + "), as during a MetalLB failover; using the newest, "
                  + chosen.id()
                  + " on "
                  + chosen.node().get()));
    }
    return chosen.node();
  }

  private static List<Source> sources(
      ServiceKey key,
      Collection<EndpointInput> endpoints,
      Map<IpAddress, String> nodeAddresses,
      List<Finding> findings) {
    TreeMap<IpAddress, Source> byIp = new TreeMap<>();
    List<String> malformed = new ArrayList<>();
    List<String> hostNetwork = new ArrayList<>();
    for (EndpointInput e : endpoints) {
      Optional<IpAddress> ip = IpAddress.parse(e.address());
      if (ip.isEmpty()) {
        malformed.add("\"" + e.address() + "\"");
        continue;
      }
      Source s = new Source(ip.get(), e.nodeName(), e.podName());
      String node = nodeAddresses.get(ip.get());
      if (node != null) {
        hostNetwork.add(s.describe(key.namespace()) + " is an address of node " + node);
        continue;
      }
      byIp.merge(ip.get(), s, ServiceResolver::preferKnown);
    }
    if (!malformed.isEmpty()) {
      findings.add(
          Finding.warning(
              key,
              INVALID_ENDPOINT_ADDRESS,
              "ignoring malformed endpoint address(es) " + summary(malformed)));
    }
    if (!hostNetwork.isEmpty()) {
      findings.add(
          Finding.warning(
              key,
              HOST_NETWORK_ENDPOINT,
              "not rewriting hostNetwork endpoint(s), SNAT would rewrite the node's own traffic: "
                  + summary(hostNetwork)));
    }
    return new ArrayList<>(byIp.values());
  }

  /** The same address in two slices (slice migration): keep the record that says most. */
  private static Source preferKnown(Source a, Source b) {
    Comparator<Source> order =
        Comparator.comparing(Source::node, Comparator.nullsLast(Comparator.naturalOrder()))
            .thenComparing(Source::pod, Comparator.nullsLast(Comparator.naturalOrder()));
    return order.compare(a, b) <= 0 ? a : b;
  }

  /** Up to five items, then a count, so an Event stays readable. */
  static String summary(List<String> items) {
    List<String> sorted = items.stream().sorted().toList();
    if (sorted.size() <= 5) {
      return String.join(", ", sorted);
    }
    return String.join(", ", sorted.subList(0, 5)) + " and " + (sorted.size() - 5) + " more";
  }
}
