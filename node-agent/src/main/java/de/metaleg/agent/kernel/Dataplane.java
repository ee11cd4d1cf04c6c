package de.metaleg.agent.kernel;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.DesiredState;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Programs one node's kernel: {@link IptablesDataplane} (FIREWALL_BACKEND=iptables) or {@link
 * NftDataplane} (nftables); both use {@link IpBatchRoutes} for ip rules and routes.
 */
public interface Dataplane {
  /**
   * What one sync did. {@code warnings} are non-fatal (e.g. a stale set still in use); {@code
   * stepMillis} is the time per step, for logs and the benchmark.
   */
  record SyncResult(
      DesiredState state, boolean full, List<String> warnings, Map<String, Long> stepMillis) {}

  /** e.g. iptables-nft, iptables-legacy. */
  String firewallBackend();

  /** e.g. netlink. */
  String routeBackend();

  /**
   * Makes the kernel match {@code plan}. A full sync reads the kernel back first and rewrites
   * everything owned; an incremental one applies only what changed since the last sync. Throws
   * {@link DataplaneException} when a transaction fails; the next sync is then full.
   */
  SyncResult sync(DesiredPlan plan, boolean full);

  /**
   * Rebuilds, from what is programmed in the kernel, the entries of {@code services} (whose plan
   * entries are invalid and whose last good state this process never saw, i.e. after a restart).
   * {@code plan} maps gateway IPs back to node names.
   */
  default Map<String, List<Entry>> recoverEntries(Set<String> services, DesiredPlan plan) {
    return Map.of();
  }

  /** The current mark allocation (gateway node to mark index), for status and tests. */
  default Map<String, Integer> allocation() {
    return Map.of();
  }

  /** When the dataplane must sync again by itself (e.g. a drain ends), if ever. */
  default Optional<java.time.Instant> nextDeadline() {
    return Optional.empty();
  }

  /**
   * The packet counters of the guard rules now, per guard label (both families summed); they
   * restart at 0 when a sync rewrites the chain.
   */
  default Map<String, Long> guardCounters() {
    return Map.of();
  }

  /**
   * How long a reading of {@link #guardCounters} serves the metric (its staleness bound). A sync
   * that rewrites the guard chain resets its counters; the drops since the last reading are lost
   * then, except before a full sync, which reads them first ({@link TransitionDataplane}).
   */
  default java.time.Duration guardReadPeriod() {
    return java.time.Duration.ofSeconds(10);
  }

  /**
   * Cheap drift check against the last sync (the canary, every few seconds): a description of what
   * is missing, if anything. Its cost must not grow with what other components program.
   */
  Optional<String> drift();

  /**
   * An observation that outlasts single syncs and that the plan's status should show (the agent
   * adds it to the Degraded condition), e.g. another component that keeps pushing our iptables
   * jumps down from position 1.
   */
  default Optional<String> warning() {
    return Optional.empty();
  }
}
