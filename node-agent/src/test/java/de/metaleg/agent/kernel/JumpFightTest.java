package de.metaleg.agent.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** One displaced jump is an incident; {@link JumpFight#THRESHOLD} within the window a fight. */
class JumpFightTest {
  private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
  private static final String BY = "-A PREROUTING -j cali-PREROUTING";

  @Test
  void aFightNeedsRepeatedDisplacementsWithinTheWindowAndEndsAfterIt() {
    JumpFight fight = new JumpFight();
    assertFalse(fight.displaced(T0, "iptables-nft mangle PREROUTING", BY));
    assertEquals(Optional.empty(), fight.warning(T0), "a CNI restart is no fight");
    assertFalse(fight.displaced(T0.plusSeconds(90), "iptables-nft mangle PREROUTING", BY));
    assertTrue(
        fight.displaced(T0.plusSeconds(180), "ip6tables-nft nat POSTROUTING", BY),
        "the third one starts the fight (one log line)");
    assertFalse(fight.displaced(T0.plusSeconds(270), "iptables-nft mangle PREROUTING", BY));
    String w = fight.warning(T0.plusSeconds(270)).orElseThrow();
    assertTrue(w.startsWith("JumpFight: "), w);
    assertTrue(w.contains("4 times"), w);
    assertTrue(w.contains("iptables-nft mangle PREROUTING"), w);
    assertTrue(w.contains(BY), w);
    assertTrue(w.contains("FIREWALL_BACKEND=nftables"), w);
    assertEquals(
        Optional.empty(),
        fight.warning(T0.plusSeconds(270).plus(JumpFight.WINDOW)),
        "over once nothing was displaced for a whole window");
  }

  @Test
  void displacementsSpreadWiderThanTheWindowAreNoFight() {
    JumpFight fight = new JumpFight();
    Duration gap = JumpFight.WINDOW.dividedBy(JumpFight.THRESHOLD - 1).plusSeconds(1);
    for (int i = 0; i < 10; i++) {
      assertFalse(
          fight.displaced(T0.plus(gap.multipliedBy(i)), "iptables-nft nat POSTROUTING", BY));
    }
    assertEquals(Optional.empty(), fight.warning(T0.plus(gap.multipliedBy(9))));
  }
}
