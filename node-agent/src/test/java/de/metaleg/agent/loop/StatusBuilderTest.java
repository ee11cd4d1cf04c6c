package de.metaleg.agent.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.v1alpha1.EgressPlanStatus;
import io.fabric8.kubernetes.api.model.Condition;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StatusBuilderTest {
  private static StatusBuilder.Outcome outcome(
      long gen, List<String> problems, Optional<String> failure, Instant at) {
    return new StatusBuilder.Outcome(
        gen, Optional.empty(), problems, failure, "iptables-nft", "netlink", at, 3, "v1");
  }

  private static Condition cond(EgressPlanStatus s, String type) {
    return s.condition(type).orElseThrow();
  }

  @Test
  void transitionTimeMovesOnlyWhenStatusChanges() {
    Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
    EgressPlanStatus a = StatusBuilder.build(null, outcome(1, List.of(), Optional.empty(), t0));
    EgressPlanStatus b =
        StatusBuilder.build(
            a, outcome(2, List.of("entry x: bad"), Optional.empty(), t0.plusSeconds(60)));
    assertEquals(
        cond(a, "Ready").getLastTransitionTime(), cond(b, "Ready").getLastTransitionTime());
    assertNotEquals(
        cond(a, "Degraded").getLastTransitionTime(), cond(b, "Degraded").getLastTransitionTime());
    EgressPlanStatus c =
        StatusBuilder.build(
            b, outcome(2, List.of("entry x: worse"), Optional.empty(), t0.plusSeconds(120)));
    assertEquals(
        cond(b, "Degraded").getLastTransitionTime(),
        cond(c, "Degraded").getLastTransitionTime(),
        "message change only");
    EgressPlanStatus d =
        StatusBuilder.build(
            c, outcome(2, List.of("entry x: worse"), Optional.of("boom"), t0.plusSeconds(180)));
    assertEquals("False", cond(d, "Ready").getStatus());
    assertEquals("SyncFailed", cond(d, "Ready").getReason());
    assertEquals(t0.plusSeconds(180).toString(), cond(d, "Ready").getLastTransitionTime());
  }

  @Test
  void onlySyncTimeChangedMeansSame() {
    Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
    EgressPlanStatus a = StatusBuilder.build(null, outcome(1, List.of(), Optional.empty(), t0));
    EgressPlanStatus b =
        StatusBuilder.build(a, outcome(1, List.of(), Optional.empty(), t0.plusSeconds(300)));
    assertTrue(StatusBuilder.sameExceptSyncTime(a, b));
    EgressPlanStatus c =
        StatusBuilder.build(b, outcome(2, List.of(), Optional.empty(), t0.plusSeconds(301)));
    assertTrue(!StatusBuilder.sameExceptSyncTime(b, c), "a new generation is written");
  }

  @Test
  void longProblemListsAreCut() {
    List<String> many = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      many.add("entry shop/svc-" + i + ": unknown role");
    }
    String msg = StatusBuilder.summarize(many);
    assertEquals(StatusBuilder.MAX_LISTED + 1, msg.lines().count());
    assertTrue(msg.endsWith("... and 980 more"), msg);
  }
}
