package de.metaleg.lab;

import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/** Renders EgressPlans as a small table, like {@code kubectl get egp} plus the entries. */
public final class PlanTable {
  private PlanTable() {}

  public static String render(List<EgressPlan> plans) {
    StringBuilder sb =
        new StringBuilder(
            String.format(
                "%-8s %-4s %-8s %-6s %s%n", "NODE", "GEN", "OBSERVED", "READY", "ENTRIES"));
    for (EgressPlan p :
        plans.stream().sorted(Comparator.comparing(x -> x.getMetadata().getName())).toList()) {
      EgressPlanStatus s = p.getStatus();
      List<EgressEntry> entries = p.getSpec() == null ? List.of() : p.getSpec().getEntries();
      String entryText =
          entries.isEmpty()
              ? "-"
              : entries.stream().map(PlanTable::entry).collect(Collectors.joining("; "));
      sb.append(
          String.format(
              "%-8s %-4s %-8s %-6s %s%n",
              p.getMetadata().getName(),
              p.getMetadata().getGeneration(),
              s == null ? "-" : Objects.toString(s.getObservedGeneration(), "-"),
              ready(s),
              entryText));
    }
    return sb.toString();
  }

  static String ready(EgressPlanStatus s) {
    if (s == null) {
      return "-";
    }
    return s.condition(EgressPlanStatus.CONDITION_READY).map(Condition::getStatus).orElse("-");
  }

  static String entry(EgressEntry e) {
    boolean v4 = e.getSnatIPv4() != null || e.getGatewayIPv4() != null || has(e.getSourceIPv4s());
    boolean v6 = e.getSnatIPv6() != null || e.getGatewayIPv6() != null || has(e.getSourceIPv6s());
    String family = v4 && v6 ? "v4+v6" : v4 ? "v4" : v6 ? "v6" : "no addresses";
    return e.getService()
        + " "
        + e.getRole()
        + " ("
        + e.getReason()
        + (e.getGatewayNode() == null ? "" : ", gateway " + e.getGatewayNode())
        + ", "
        + family
        + ")";
  }

  private static boolean has(List<String> list) {
    return list != null && !list.isEmpty();
  }

  /** Empty when every plan's Ready is True for its current generation, else what is missing. */
  public static String notReady(List<EgressPlan> plans, List<String> nodes) {
    StringBuilder sb = new StringBuilder();
    for (String node : nodes) {
      EgressPlan p =
          plans.stream()
              .filter(x -> node.equals(x.getMetadata().getName()))
              .findFirst()
              .orElse(null);
      if (p == null) {
        sb.append(node).append(": no plan; ");
        continue;
      }
      EgressPlanStatus s = p.getStatus();
      if (s == null
          || !Objects.equals(p.getMetadata().getGeneration(), s.getObservedGeneration())
          || !"True".equals(ready(s))) {
        sb.append(node)
            .append(": generation ")
            .append(p.getMetadata().getGeneration())
            .append(" observed ")
            .append(s == null ? null : s.getObservedGeneration())
            .append(" Ready ")
            .append(ready(s))
            .append("; ");
      }
    }
    return sb.toString();
  }
}
