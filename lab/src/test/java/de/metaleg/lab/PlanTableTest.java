package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.util.List;
import org.junit.jupiter.api.Test;

class PlanTableTest {
  static EgressPlan plan(String node, long generation, Long observed, String ready) {
    EgressEntry e = new EgressEntry();
    e.setService("default/web");
    e.setRole("Forward");
    e.setReason("AnnouncedByOtherNode");
    e.setGatewayNode("node-2");
    e.setGatewayIPv4("10.89.0.12");
    EgressPlanSpec spec = new EgressPlanSpec();
    spec.setEntries(List.of(e));
    EgressPlan p = EgressPlan.forNode(node, spec);
    p.getMetadata().setGeneration(generation);
    if (observed != null) {
      EgressPlanStatus s = new EgressPlanStatus();
      s.setObservedGeneration(observed);
      s.setConditions(List.of(new ConditionBuilder().withType("Ready").withStatus(ready).build()));
      p.setStatus(s);
    }
    return p;
  }

  @Test
  void readyOnlyForTheCurrentGeneration() {
    List<String> nodes = List.of("node-1", "node-2", "node-3");
    List<EgressPlan> plans =
        List.of(
            plan("node-1", 3, 3L, "True"),
            plan("node-2", 4, 3L, "True"),
            plan("node-3", 1, null, null));
    assertEquals(
        "node-2: generation 4 observed 3 Ready True; node-3: generation 1 observed null Ready -; ",
        PlanTable.notReady(plans, nodes));
    assertEquals("", PlanTable.notReady(List.of(plan("node-1", 2, 2L, "True")), List.of("node-1")));
    assertEquals("node-1: no plan; ", PlanTable.notReady(List.of(), List.of("node-1")));
  }

  @Test
  void rendersEntriesWithRoleReasonGatewayAndFamily() {
    String table = PlanTable.render(List.of(plan("node-1", 3, 3L, "True")));
    assertTrue(
        table.contains(
            "node-1   3    3        True   default/web Forward (AnnouncedByOtherNode, gateway node-2, v4)"),
        table);
  }
}
