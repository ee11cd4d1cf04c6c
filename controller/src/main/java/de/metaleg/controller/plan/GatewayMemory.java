package de.metaleg.controller.plan;

import de.metaleg.api.v1alpha1.SnatPorts;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What the controller remembers about each usable Service's gateway, so that a MetalLB failover
 * does not pass through a Reject generation. MetalLB (>= 0.14.6) deletes the old ServiceL2Status
 * before it creates the new one; for the ~0.1-0.2 s in between no object names a node. While a
 * Service has no announcer, its last announced node stays its gateway for up to the grace period
 * ({@code GATEWAY_GRACE_PERIOD}); then it has none and its pods' egress is rejected.
 *
 * <p>Pure: the caller passes the time. {@link #step} at the same {@code now} with the same
 * announcers is idempotent (the memory only changes when an announcer comes or goes), which is what
 * lets the incremental {@link PlanningState} and {@link EgressPlanner#plan} agree.
 *
 * <p>It also keeps each Service's half of the port space ({@link Half}, {@code snatPorts}): it
 * flips with every move, so consecutive gateways never SNAT new TCP connections to the same ports.
 *
 * @param entries per usable labelled Service; a Service that is deleted, unlabelled or unusable is
 *     dropped
 * @param seeds the halves the plans written before a restart gave, per Service and gateway node
 *     (see {@link Half#seeded}); a Service's first step uses them, every step drops them all
 */
public record GatewayMemory(
    Map<ServiceKey, Entry> entries, Map<ServiceKey, Map<String, Integer>> seeds) {
  public static final GatewayMemory EMPTY = new GatewayMemory(Map.of());

  public GatewayMemory {
    entries = Map.copyOf(entries);
    Map<ServiceKey, Map<String, Integer>> copy = new HashMap<>();
    seeds.forEach((k, byNode) -> copy.put(k, Map.copyOf(byNode)));
    seeds = Map.copyOf(copy);
  }

  public GatewayMemory(Map<ServiceKey, Entry> entries) {
    this(entries, Map.of());
  }

  /**
   * The half of the port space a Service's gateway SNATs new TCP connections to, and the node it
   * was given to. A move to another node flips it; the same node again (after a gap) keeps it.
   *
   * @param node the gateway that got this half; the announced node once there is one
   * @param parity index into {@link SnatPorts#HALVES}: 0 upper, 1 lower
   */
  public record Half(Optional<String> node, int parity) {
    /** A Service seen for the first time, nothing written before: the upper half. */
    public static final Half FIRST = new Half(Optional.empty(), 0);

    public Half {
      if (parity != 0 && parity != 1) {
        throw new IllegalArgumentException("parity must be 0 or 1: " + parity);
      }
    }

    /**
     * The half before a Service's first step after a restart, from the Gateway entries the previous
     * run wrote ({@code written}: node to parity). Several gateways (the previous run stopped
     * between two writes of a failover): the announced node keeps its own, else the first by name.
     * None: {@link #FIRST}.
     */
    public static Half seeded(Map<String, Integer> written, Optional<String> announced) {
      if (announced.isPresent() && written.containsKey(announced.get())) {
        return new Half(announced, written.get(announced.get()));
      }
      return new TreeMap<>(written)
          .entrySet().stream()
              .findFirst()
              .map(e -> new Half(Optional.of(e.getKey()), e.getValue()))
              .orElse(FIRST);
    }

    /** The half once {@code announced} names a node: the other one if it is another node. */
    public Half next(Optional<String> announced) {
      if (announced.isEmpty() || announced.equals(node)) {
        return this;
      }
      return new Half(announced, node.isPresent() ? 1 - parity : parity);
    }

    /** As {@code snatPorts}: {@link SnatPorts#UPPER} or {@link SnatPorts#LOWER}. */
    public String ports() {
      return SnatPorts.after(parity);
    }
  }

  /**
   * One Service's gateway history.
   *
   * @param lastNode the node a ServiceL2Status last named (empty: none since the controller knows
   *     the Service)
   * @param missingSince when the last announcer disappeared (empty while one names a node)
   * @param missedBefore time without an announcer in earlier, closed gaps
   * @param moves how often the announced node changed from one node to another (also across a gap)
   * @param half the gateway's half of the port space; not derived from {@code moves}, which counts
   *     this run's moves only (a metric), while the half continues the plans written before
   */
  public record Entry(
      Optional<String> lastNode,
      Optional<Instant> missingSince,
      Duration missedBefore,
      long moves,
      Half half) {
    /** The entry of a Service seen for the first time. */
    public static Entry first(Optional<String> announced, Instant now) {
      return first(announced, now, Half.FIRST);
    }

    /** The same, starting from {@code half} (a restart: what the written plans gave). */
    public static Entry first(Optional<String> announced, Instant now, Half half) {
      return announced.isPresent()
          ? new Entry(announced, Optional.empty(), Duration.ZERO, 0, half.next(announced))
          : new Entry(Optional.empty(), Optional.of(now), Duration.ZERO, 0, half);
    }

    /** The entry after this moment's announcer: unchanged unless one came or went. */
    public Entry next(Optional<String> announced, Instant now) {
      if (announced.isEmpty()) {
        return missingSince.isPresent()
            ? this
            : new Entry(lastNode, Optional.of(now), missedBefore, moves, half);
      }
      Duration missed = missedBefore.plus(missingSince.map(t -> gap(t, now)).orElse(Duration.ZERO));
      boolean moved = lastNode.isPresent() && !lastNode.equals(announced);
      return new Entry(
          announced, Optional.empty(), missed, moves + (moved ? 1 : 0), half.next(announced));
    }

    /** Until when the last node still counts as gateway; empty when nothing is bridged. */
    public Optional<Instant> heldUntil(Duration grace) {
      if (lastNode.isEmpty() || missingSince.isEmpty() || grace.isZero()) {
        return Optional.empty();
      }
      return Optional.of(missingSince.get().plus(grace));
    }

    /** The gateway to plan with: the announced node, or the last one while the grace lasts. */
    public Optional<String> gateway(Instant now, Duration grace) {
      if (missingSince.isEmpty()) {
        return lastNode;
      }
      return heldUntil(grace).filter(now::isBefore).flatMap(t -> lastNode);
    }

    /** Time without a real announcer up to {@code now}, the current gap included. */
    public Duration missing(Instant now) {
      return missedBefore.plus(missingSince.map(t -> gap(t, now)).orElse(Duration.ZERO));
    }

    private static Duration gap(Instant from, Instant to) {
      return to.isAfter(from) ? Duration.between(from, to) : Duration.ZERO;
    }
  }

  /**
   * The outcome of one step.
   *
   * @param gateways the gateway to plan with, per Service of {@code announced}
   * @param nextExpiry when the earliest bridged gateway runs out (re-plan then)
   */
  public record Step(
      Map<ServiceKey, Optional<String>> gateways,
      GatewayMemory memory,
      Optional<Instant> nextExpiry) {}

  /**
   * One Service's entry after this moment's announcer ({@code previous} may be null; then {@code
   * seed}, what the plans written before a restart gave, may be null too).
   */
  public static Entry advance(
      Entry previous, Optional<String> announced, Instant now, Map<String, Integer> seed) {
    if (previous != null) {
      return previous.next(announced, now);
    }
    Half half = seed == null ? Half.FIRST : Half.seeded(seed, announced);
    return Entry.first(announced, now, half);
  }

  /**
   * @param announced the node a ServiceL2Status names now, for every usable labelled Service (the
   *     others are forgotten)
   */
  public Step step(Map<ServiceKey, Optional<String>> announced, Instant now, Duration grace) {
    Map<ServiceKey, Entry> next = new HashMap<>();
    Map<ServiceKey, Optional<String>> gateways = new HashMap<>();
    Optional<Instant> expiry = Optional.empty();
    for (Map.Entry<ServiceKey, Optional<String>> a : announced.entrySet()) {
      Entry e = advance(entries.get(a.getKey()), a.getValue(), now, seeds.get(a.getKey()));
      next.put(a.getKey(), e);
      gateways.put(a.getKey(), e.gateway(now, grace));
      Optional<Instant> until = e.heldUntil(grace).filter(now::isBefore);
      if (until.isPresent() && (expiry.isEmpty() || until.get().isBefore(expiry.get()))) {
        expiry = until;
      }
    }
    return new Step(gateways, new GatewayMemory(next), expiry);
  }
}
