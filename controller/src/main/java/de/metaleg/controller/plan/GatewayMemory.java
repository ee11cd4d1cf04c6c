package de.metaleg.controller.plan;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

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
 * @param entries per usable labelled Service; a Service that is deleted, unlabelled or unusable is
 *     dropped
 */
public record GatewayMemory(Map<ServiceKey, Entry> entries) {
  public static final GatewayMemory EMPTY = new GatewayMemory(Map.of());

  public GatewayMemory {
    entries = Map.copyOf(entries);
  }

  /**
   * One Service's gateway history.
   *
   * @param lastNode the node a ServiceL2Status last named (empty: none since the controller knows
   *     the Service)
   * @param missingSince when the last announcer disappeared (empty while one names a node)
   * @param missedBefore time without an announcer in earlier, closed gaps
   * @param moves how often the announced node changed from one node to another (also across a gap)
   */
  public record Entry(
      Optional<String> lastNode,
      Optional<Instant> missingSince,
      Duration missedBefore,
      long moves) {
    /** The entry of a Service seen for the first time. */
    public static Entry first(Optional<String> announced, Instant now) {
      return announced.isPresent()
          ? new Entry(announced, Optional.empty(), Duration.ZERO, 0)
          : new Entry(Optional.empty(), Optional.of(now), Duration.ZERO, 0);
    }

    /** The entry after this moment's announcer: unchanged unless one came or went. */
    public Entry next(Optional<String> announced, Instant now) {
      if (announced.isEmpty()) {
        return missingSince.isPresent()
            ? this
            : new Entry(lastNode, Optional.of(now), missedBefore, moves);
      }
      Duration missed = missedBefore.plus(missingSince.map(t -> gap(t, now)).orElse(Duration.ZERO));
      boolean moved = lastNode.isPresent() && !lastNode.equals(announced);
      return new Entry(announced, Optional.empty(), missed, moves + (moved ? 1 : 0));
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

  /** One Service's entry after this moment's announcer ({@code previous} may be null). */
  public static Entry advance(Entry previous, Optional<String> announced, Instant now) {
    return previous == null ? Entry.first(announced, now) : previous.next(announced, now);
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
      Entry e = advance(entries.get(a.getKey()), a.getValue(), now);
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
