package de.metaleg.lab;

import de.metaleg.lab.Cluster.ServiceRef;
import java.util.List;
import java.util.Optional;

/**
 * MetalLB in Layer-2 mode, simulated faithfully enough for MetalEG: the ServiceL2Status objects in
 * the API server and the router's neighbour cache entries that a speaker's gratuitous ARP/NA would
 * create.
 */
public final class MetalLbSimulator {
  private final Cluster cluster;
  private final LabPlan plan;

  public MetalLbSimulator(Cluster cluster, LabPlan plan) {
    this.cluster = cluster;
    this.plan = plan;
  }

  /**
   * Makes {@code node} the announcer of the Service's LB IPs: deletes any existing status object,
   * creates one for {@code node}, points the router's neighbour entries at the node's MAC. A node
   * that is not in the lab (e.g. a stale name) gets the status object but no neighbour entry.
   */
  public void announce(ServiceRef ref, String node) {
    cluster.deleteL2Statuses(ref);
    cluster.createL2Status(ref, node);
    Optional<LabPlan.Node> labNode =
        plan.nodes().stream().filter(n -> n.name().equals(node)).findFirst();
    if (labNode.isPresent()) {
      neighbours(labNode.get().mac());
    } else {
      withdrawNeighbours();
    }
  }

  /** Failover: the same as a new announcement from another node. */
  public void failover(ServiceRef ref, String to) {
    announce(ref, to);
  }

  /** No speaker announces the Service any more. */
  public void withdraw(ServiceRef ref) {
    cluster.deleteL2Statuses(ref);
    withdrawNeighbours();
  }

  private void neighbours(String mac) {
    for (String ip : List.of(plan.lbIPv4(), plan.lbIPv6())) {
      Cmd.inNs(
              plan.routerNs(),
              "ip",
              "neigh",
              "replace",
              ip,
              "lladdr",
              mac,
              "dev",
              "eth0",
              "nud",
              "permanent")
          .orThrow();
    }
  }

  private void withdrawNeighbours() {
    for (String ip : List.of(plan.lbIPv4(), plan.lbIPv6())) {
      Cmd.inNs(plan.routerNs(), "ip", "neigh", "del", ip, "dev", "eth0"); // absent is fine
    }
  }
}
