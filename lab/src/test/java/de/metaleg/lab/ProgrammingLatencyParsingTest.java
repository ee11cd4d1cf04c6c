package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What {@link ProgrammingLatencyBenchmark} reads: {@code nft monitor} element lines and the agent's
 * sync log line. Pod IPs 10.244.10.11 / 10.244.10.110 (one a prefix of the other), LB IP
 * 198.51.100.20.
 */
class ProgrammingLatencyParsingTest {
  static final String POD = "10.244.10.11";

  @Test
  void aForwardedSourceIsProgrammedOnceItsQuarantineIsLifted() {
    KernelWatch.Nft.Members m = new KernelWatch.Nft.Members();
    m.apply(
        "add element inet metaleg mark4 { 10.244.10.110 : jump mark-1, "
            + POD
            + " : jump mark-1 }");
    m.apply("add element inet metaleg quar4 { " + POD + " }");
    assertFalse(m.programmed(POD, false), "still quarantined");

    m.apply("delete element inet metaleg quar4 { " + POD + " }");
    assertTrue(m.programmed(POD, false));
    assertFalse(m.programmed(POD, true), "marked, not SNATed: not this node's gateway role");
  }

  @Test
  void onlyTheExactAddressCounts() {
    KernelWatch.Nft.Members m = new KernelWatch.Nft.Members();
    m.apply("add element inet metaleg snat4 { 10.244.10.110 : 198.51.100.20 }");
    m.apply("add element inet metaleg quar4 { 10.244.10.110 }");
    m.apply("add element inet othertable snat4 { " + POD + " : 198.51.100.20 }");
    assertFalse(m.programmed(POD, true));
  }

  @Test
  void agentSyncLinesByGeneration() {
    Map<Long, ProgrammingLatencyBenchmark.AgentSync> syncs =
        ProgrammingLatencyBenchmark.agentSyncs(
            List.of(
                "2026-12-02T04:46:26.554Z [metaleg-sync] DEBUG de.metaleg.agent.loop.AgentLoop -"
                    + " incremental sync of generation 4: {Gateway=1, Forward=0, Reject=0}, took"
                    + " 140 ms {read=0, render=0, ipset=25, conntrack=95, unquarantine=12}",
                "2026-12-02T04:46:27.000Z [main] INFO de.metaleg.agent.AgentMain - started"));
    assertEquals(List.of(4L), List.copyOf(syncs.keySet()));
    ProgrammingLatencyBenchmark.AgentSync s = syncs.get(4L);
    assertEquals(ProgrammingLatencyBenchmark.micros("2026-12-02T04:46:26.554Z"), s.end());
    assertEquals(140, s.tookMs());
    assertEquals(
        Map.of("read", 0L, "render", 0L, "ipset", 25L, "conntrack", 95L, "unquarantine", 12L),
        s.steps());
  }
}
