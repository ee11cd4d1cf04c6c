package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The transition report computed from flows.py lines (no lab needed). */
class FlowsTest {
  static final LabPlan PLAN = LabPlan.load(Path.of("scripts/lab-net.sh"));

  static Flows.FlowStats flow(Flows.Report r, String name) {
    return r.flows().stream().filter(f -> f.flow().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void stallsBreaksAndWrongSourcesInAWindow() {
    Flows f =
        Flows.replay(
            PLAN,
            "1a",
            List.of(
                "900.0 tcp4 connected 1",
                "1000.0 tcp4 ans 1 1 198.51.100.10",
                "1100.0 tcp4 ans 1 2 198.51.100.10",
                "1300.0 tcp4 broken 1 rst",
                "1500.0 tcp4 connected 2",
                "1600.0 tcp4 ans 2 3 10.89.0.11", // reconnected behind a node IP: a leak
                "1700.0 tcp4 ans 2 4 10.89.0.11",
                "1050.0 udp4 ans 0 1 198.51.100.10",
                "1250.0 udp4 error 0 econnrefused",
                "1060.0 fresh4 ok 198.51.100.10",
                "1110.0 fresh4 timeout",
                "1160.0 fresh4 refused",
                "1210.0 fresh4 ok 10.89.0.11",
                "garbage"));
    Flows.Report r = f.report(1000, 2000);

    Flows.FlowStats tcp = flow(r, "tcp4");
    assertEquals(4, tcp.answers());
    assertEquals(1, tcp.broken().size());
    assertEquals("1 (broken rst x1, first at +300 ms)", tcp.brokenSummary());
    assertEquals(500, tcp.maxStallMs(), 0.01); // 1100 -> 1600
    assertEquals(500, tcp.maxClosedStallMs(), 0.01);
    assertEquals(2, tcp.wrongSources());
    assertEquals(Map.of("198.51.100.10", 2, "10.89.0.11", 2), tcp.sources());
    assertEquals(1700, tcp.lastAnswer(), 0.01);

    Flows.FlowStats udp = flow(r, "udp4");
    assertEquals(950, udp.maxStallMs(), 0.01); // open until the window's end
    assertEquals(50, udp.maxClosedStallMs(), 0.01); // from the window's start to its answer
    assertEquals(List.of("error econnrefused at +250 ms"), udp.broken());

    Flows.FreshStats fresh = r.fresh().get(0);
    assertEquals(
        List.of(2, 1, 1, 0, 1),
        List.of(fresh.ok(), fresh.refused(), fresh.timeout(), fresh.other(), fresh.wrongSources()));
    assertEquals(2, fresh.failed());
  }

  @Test
  void eventsOutsideTheWindowDoNotCount() {
    Flows f =
        Flows.replay(
            PLAN, "2a", List.of("100.0 tcp6 ans 1 1 2001:db8:51::10", "5000.0 tcp6 broken 1 eof"));
    Flows.FlowStats tcp = flow(f.report(1000, 2000), "tcp6");
    assertEquals(0, tcp.answers());
    assertEquals(List.of(), tcp.broken());
    assertEquals(1000, tcp.maxStallMs(), 0.01);
  }
}
