package de.metaleg.controller.plan;

import de.metaleg.common.net.Family;
import de.metaleg.common.net.IpAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One labelled Service resolved against MetalLB and its endpoints, independent of any node.
 *
 * @param usable false when the Service gets no rules at all (not a LoadBalancer, no or malformed LB
 *     IP); {@code findings} says why
 * @param gatewayNode the node MetalLB announces the LB IP from, if an announcer names one; after
 *     {@link EgressPlanner#resolveAll}, the remembered one while the grace period lasts
 * @param sources endpoint addresses sorted by address, one per address, node addresses removed
 */
public record ResolvedService(
    ServiceKey key,
    boolean usable,
    Optional<IpAddress> lbIPv4,
    Optional<IpAddress> lbIPv6,
    Optional<String> gatewayNode,
    List<Source> sources,
    List<Finding> findings) {
  public ResolvedService {
    sources = List.copyOf(sources);
    findings = List.copyOf(findings);
  }

  public static ResolvedService unusable(ServiceKey key, Finding why) {
    return new ResolvedService(
        key, false, Optional.empty(), Optional.empty(), Optional.empty(), List.of(), List.of(why));
  }

  public Optional<IpAddress> lbIP(Family family) {
    return family == Family.V4 ? lbIPv4 : lbIPv6;
  }

  /** The LB IPs as Events print them: {@code 198.51.100.10, 2001:db8::10}. */
  public String lbIPsText() {
    List<String> ips = new ArrayList<>();
    lbIPv4.ifPresent(ip -> ips.add(ip.toString()));
    lbIPv6.ifPresent(ip -> ips.add(ip.toString()));
    return String.join(", ", ips);
  }

  /** Whether any node can get an entry: usable, and a source of a family it has an LB IP for. */
  public boolean hasRules() {
    return usable && sources.stream().anyMatch(s -> lbIP(s.ip().family()).isPresent());
  }

  /** The same Service planned with {@code gateway} (a remembered one while the grace lasts). */
  public ResolvedService withGateway(Optional<String> gateway) {
    if (gateway.equals(gatewayNode)) {
      return this;
    }
    return new ResolvedService(key, usable, lbIPv4, lbIPv6, gateway, sources, findings);
  }

  public ResolvedService withSources(List<Source> kept, List<Finding> moreFindings) {
    List<Finding> all = new ArrayList<>(findings);
    all.addAll(moreFindings);
    return new ResolvedService(key, usable, lbIPv4, lbIPv6, gatewayNode, kept, all);
  }
}
