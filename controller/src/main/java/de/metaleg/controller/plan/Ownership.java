package de.metaleg.controller.plan;

import de.metaleg.common.net.Family;
import de.metaleg.common.net.IpAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * A pod IP that is an endpoint of two labelled Services with different LB IPs can leave with only
 * one of them. The Service whose {@code namespace/name} sorts first owns it; the others drop it and
 * get a Warning naming the pod. Every node computes the same answer because the rule only depends
 * on the Services.
 */
public final class Ownership {
  public static final String POD_IN_MULTIPLE_SERVICES = "PodInMultipleServices";

  private Ownership() {}

  /** Records that {@code s} wants each of its sources (only families it has an LB IP for). */
  public static void addClaims(ResolvedService s, Map<IpAddress, TreeSet<ServiceKey>> claims) {
    for (IpAddress ip : claimedIps(s)) {
      claims.computeIfAbsent(ip, k -> new TreeSet<>()).add(s.key());
    }
  }

  public static void removeClaims(ResolvedService s, Map<IpAddress, TreeSet<ServiceKey>> claims) {
    for (IpAddress ip : claimedIps(s)) {
      TreeSet<ServiceKey> owners = claims.get(ip);
      if (owners != null && owners.remove(s.key()) && owners.isEmpty()) {
        claims.remove(ip);
      }
    }
  }

  public static List<IpAddress> claimedIps(ResolvedService s) {
    if (!s.usable()) {
      return List.of();
    }
    List<IpAddress> ips = new ArrayList<>(s.sources().size());
    for (Source src : s.sources()) {
      if (s.lbIP(src.ip().family()).isPresent()) {
        ips.add(src.ip());
      }
    }
    return ips;
  }

  /** {@code s} without the sources another Service owns, with a Warning for each such pod. */
  public static ResolvedService effective(
      ResolvedService s,
      Map<IpAddress, TreeSet<ServiceKey>> claims,
      Map<ServiceKey, ResolvedService> resolved) {
    if (!s.usable()) {
      return s;
    }
    List<Source> kept = new ArrayList<>(s.sources().size());
    List<Finding> findings = new ArrayList<>();
    for (Source src : s.sources()) {
      TreeSet<ServiceKey> owners = claims.get(src.ip());
      ServiceKey owner = owners == null || owners.isEmpty() ? s.key() : owners.first();
      if (owner.equals(s.key())) {
        kept.add(src);
        continue;
      }
      Family f = src.ip().family();
      ResolvedService winner = resolved.get(owner);
      if (winner != null && Objects.equals(winner.lbIP(f), s.lbIP(f))) {
        kept.add(src); // same LB IP: both Services agree on the source address
        continue;
      }
      findings.add(
          Finding.warning(
              s.key(),
              POD_IN_MULTIPLE_SERVICES,
              src.describe(s.key().namespace())
                  + " is also an endpoint of labelled Service "
                  + owner
                  + ", which sorts first and owns it: it egresses with "
                  + winner.lbIP(f).map(IpAddress::toString).orElse("?")
                  + ", not with this Service's "
                  + s.lbIP(f).map(IpAddress::toString).orElse("?")));
    }
    if (findings.isEmpty()) {
      return s;
    }
    return s.withSources(kept, findings);
  }

  /** Every IP that {@code services} claim, for callers that need to know which Services touch. */
  public static TreeSet<ServiceKey> claimants(
      Collection<IpAddress> ips, Map<IpAddress, TreeSet<ServiceKey>> claims) {
    TreeSet<ServiceKey> out = new TreeSet<>();
    for (IpAddress ip : ips) {
      TreeSet<ServiceKey> owners = claims.get(ip);
      if (owners != null) {
        out.addAll(owners);
      }
    }
    return out;
  }
}
