package de.metaleg.agent.render;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.model.MarkSpace;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Gives each gateway node one mark index (so one mark and one route table). A node keeps its index
 * as long as some entry forwards to it; new nodes take the lowest free index; indexes of nodes no
 * longer used are freed. Nodes beyond the mask's capacity get none (the renderer rejects them).
 */
public final class MarkAllocator {
  private MarkAllocator() {}

  public static SortedSet<String> gatewayNodes(DesiredPlan plan) {
    SortedSet<String> nodes = new TreeSet<>();
    for (Entry e : plan.entries()) {
      if (e.role() == Role.Forward) {
        nodes.add(e.gatewayNode().orElseThrow());
      }
    }
    return nodes;
  }

  public static Map<String, Integer> allocate(
      Map<String, Integer> previous, SortedSet<String> needed, int maxIndex) {
    Map<String, Integer> out = new TreeMap<>();
    TreeSet<Integer> used = new TreeSet<>();
    for (String node : needed) {
      Integer i = previous.get(node);
      if (i != null && i >= 1 && i <= maxIndex && used.add(i)) {
        out.put(node, i);
      }
    }
    int next = 1;
    for (String node : needed) {
      if (out.containsKey(node)) {
        continue;
      }
      while (used.contains(next)) {
        next++;
      }
      if (next > maxIndex) {
        break;
      }
      out.put(node, next);
      used.add(next);
    }
    return out;
  }

  /**
   * Recovers the allocation a previous agent left in the kernel: the table whose default route goes
   * via a Forward entry's gateway IP belongs to that entry's gateway node.
   *
   * @param defaultGateways per family, owned table id to the gateway of its default route
   */
  public static Map<String, Integer> recover(
      Map<Family, Map<Long, String>> defaultGateways, DesiredPlan plan, MarkSpace marks) {
    Map<String, Integer> out = new TreeMap<>();
    for (Entry e : plan.entries()) {
      if (e.role() != Role.Forward || out.containsKey(e.gatewayNode().orElseThrow())) {
        continue;
      }
      Optional<Long> table =
          defaultGateways.getOrDefault(e.family(), Map.of()).entrySet().stream()
              .filter(t -> marks.ownsTable(t.getKey()))
              .filter(t -> t.getValue().equals(e.gatewayIp().orElseThrow()))
              .map(Map.Entry::getKey)
              .filter(t -> !out.containsValue(marks.indexOfTable(t)))
              .findFirst();
      table.ifPresent(t -> out.put(e.gatewayNode().orElseThrow(), marks.indexOfTable(t)));
    }
    return out;
  }
}
