package de.metaleg.agent.kernel;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;

/**
 * Pure: notices when something keeps pushing our jumps down from position 1 (a CNI in "insert"
 * mode, e.g. Calico's default {@code ChainInsertMode=insert}, re-inserts its own jump at 1 whenever
 * it is not first). Each repair is one {@link #displaced} call; {@link #THRESHOLD} of them within
 * {@link #WINDOW} is a fight, which the iptables backend cannot win: while the other rule is first,
 * an ACCEPT or MASQUERADE in its chain can skip ours. The remedy is the nftables backend, whose
 * base chains are ordered by priority, not by position.
 */
final class JumpFight {
  static final Duration WINDOW = Duration.ofMinutes(30);
  static final int THRESHOLD = 3;

  private record Displacement(Instant at, String where, String byRule) {}

  private final Deque<Displacement> recent = new ArrayDeque<>();

  /**
   * Records one repair: our jump in {@code where} (e.g. "iptables-nft mangle PREROUTING") was not
   * first; {@code byRule} was. Returns true when this one starts a fight (for one log line).
   */
  synchronized boolean displaced(Instant now, String where, String byRule) {
    boolean before = fighting(now);
    recent.addLast(new Displacement(now, where, byRule));
    return !before && fighting(now);
  }

  private boolean fighting(Instant now) {
    while (!recent.isEmpty() && recent.peekFirst().at().isBefore(now.minus(WINDOW))) {
      recent.removeFirst();
    }
    return recent.size() >= THRESHOLD;
  }

  /** The observation for the EgressPlan's Degraded condition, while a fight is going on. */
  synchronized Optional<String> warning(Instant now) {
    if (!fighting(now)) {
      return Optional.empty();
    }
    Displacement last = recent.peekLast();
    return Optional.of(
        "JumpFight: our jump was pushed down from position 1 "
            + recent.size()
            + " times in the last "
            + WINDOW.toMinutes()
            + " min (last in "
            + last.where()
            + ", by `"
            + last.byRule()
            + "`); another component keeps inserting its rules first, which the iptables backend"
            + " cannot prevent (its rules can skip ours until the canary repairs it): use"
            + " FIREWALL_BACKEND=nftables");
  }
}
