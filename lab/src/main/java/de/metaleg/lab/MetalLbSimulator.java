package de.metaleg.lab;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.lab.Cluster.ServiceRef;
import java.util.List;
import java.util.Optional;

/**
 * MetalLB in Layer-2 mode, simulated faithfully enough for MetalEG: the ServiceL2Status objects in
 * the API server and the router's neighbour cache entries that a speaker's gratuitous ARP/NA would
 * create.
 */
public final class MetalLbSimulator {
  /** How long MetalLB's speaker takes from creating the status object to writing its node. */
  public static final long STATUS_NODE_DELAY_MS = 150;

  /** Called between the steps of {@link #failover(ServiceRef, String, Hook)}. */
  public interface Hook {
    void at(Step step);
  }

  /** The steps of a failover, in MetalLB's order. */
  public enum Step {
    NEIGHBOURS_MOVED,
    OLD_STATUS_DELETED,
    CREATED_WITHOUT_NODE,
    STATUS_NODE_WRITTEN
  }

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

  /** Failover in MetalLB's (>= 0.14.6) order; see {@link #failover(ServiceRef, String, Hook)}. */
  public void failover(ServiceRef ref, String to) {
    failover(ref, to, step -> {});
  }

  /**
   * Failover as MetalLB (>= 0.14.6) does it, in its order: the new speaker's gratuitous ARP/NA
   * moves the router's neighbour entries to the new node's MAC first; then the old ServiceL2Status
   * objects are deleted; then the new one is created ({@code generateName: l2-}, labels including
   * {@code metallb.io/node}, no status); {@link #STATUS_NODE_DELAY_MS} later its status ({@code
   * node}, service, interfaces) is written through the status subresource. {@code hook} runs after
   * each step (e.g. to kill an agent mid-failover). Returns when all is written.
   */
  public void failover(ServiceRef ref, String to, Hook hook) {
    Optional<LabPlan.Node> labNode =
        plan.nodes().stream().filter(n -> n.name().equals(to)).findFirst();
    if (labNode.isPresent()) {
      neighbours(labNode.get().mac());
    } else {
      withdrawNeighbours();
    }
    hook.at(Step.NEIGHBOURS_MOVED);
    cluster.deleteL2Statuses(ref);
    hook.at(Step.OLD_STATUS_DELETED);
    ServiceL2Status created = cluster.createL2StatusWithoutNode(ref, to);
    hook.at(Step.CREATED_WITHOUT_NODE);
    try {
      Thread.sleep(STATUS_NODE_DELAY_MS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted mid-failover", e);
    }
    cluster.writeL2StatusNode(created, ref, to);
    hook.at(Step.STATUS_NODE_WRITTEN);
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
