package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class LabPlanTest {
  @Test
  void scriptPrintsTheDocumentedPlan() {
    LabPlan plan = LabPlan.load(Path.of("scripts/lab-net.sh"));
    assertEquals(
        List.of("node-1", "node-2", "node-3"),
        plan.nodes().stream().map(LabPlan.Node::name).toList());
    assertEquals("10.89.0.12", plan.node("node-2").ipv4());
    assertEquals("fd89::12", plan.node("node-2").ipv6());
    assertEquals("02:89:00:00:00:13", plan.node("node-3").mac());
    assertEquals(
        List.of("1a", "1b", "2a", "3a"), plan.pods().stream().map(LabPlan.Pod::id).toList());
    assertEquals("10.244.1.11", plan.pod("1b").ipv4());
    assertEquals("fd44:0:0:3::10", plan.pod("3a").ipv6());
    assertEquals("203.0.113.10", plan.externalIPv4());
    assertEquals("192.168.77.10", plan.excludedIPv4());
    assertEquals("198.51.100.10", plan.lbIPv4());
    assertEquals("2001:db8:51::10", plan.lbIPv6());
    assertEquals(6443, plan.apiPort());
    assertEquals(8080, plan.echoPort());
    assertEquals(8081, plan.flowPort());
  }

  @Test
  void missingKeyIsNamed() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> LabPlan.parse("router.ns=x"));
    assertEquals("lab plan lacks cp.ns", e.getMessage());
  }
}
