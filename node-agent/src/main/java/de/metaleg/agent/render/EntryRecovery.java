package de.metaleg.agent.render;

import de.metaleg.agent.model.Entry;
import de.metaleg.agent.model.MarkSpace;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Pure: rebuilds the entries of one Service from what a previous agent programmed (its source sets,
 * the owned rule that uses each set, and the route table behind a mark). Used after a restart when
 * the plan's entry for that Service is invalid, so its last good state stays programmed instead of
 * being removed.
 */
public final class EntryRecovery {
  public static final String REASON = "RecoveredFromKernel";
  private static final Pattern MARK = Pattern.compile("--set-xmark (0x[0-9a-f]+)/(0x[0-9a-f]+)");
  private static final Pattern SNAT = Pattern.compile("-j SNAT --to-source (\\S+)");

  private EntryRecovery() {}

  /**
   * @param ownedRules per family, the {@code -A METALEG-...} lines of iptables-save
   * @param nodeByGatewayIp gateway InternalIP to node name, from the current plan's valid entries
   */
  public static List<Entry> recover(
      String service,
      Map<Family, List<String>> ownedRules,
      Map<String, ObservedSet> sets,
      Map<Family, ObservedRoutes> routes,
      MarkSpace space,
      Map<String, String> nodeByGatewayIp) {
    List<Entry> out = new ArrayList<>();
    for (Family f : Family.values()) {
      String set = Names.sourceSet(service, f);
      ObservedSet observed = sets.get(set);
      if (observed == null) {
        continue;
      }
      String match = "--match-set " + set + " src";
      for (String rule : ownedRules.getOrDefault(f, List.of())) {
        if (!rule.contains(match)) {
          continue;
        }
        Optional<Entry> e =
            fromRule(service, f, rule, observed.members(), routes, space, nodeByGatewayIp);
        if (e.isPresent()) {
          out.add(e.get());
          break;
        }
      }
    }
    return out;
  }

  private static Optional<Entry> fromRule(
      String service,
      Family f,
      String rule,
      List<String> sources,
      Map<Family, ObservedRoutes> routes,
      MarkSpace space,
      Map<String, String> nodeByGatewayIp) {
    Matcher mark = MARK.matcher(rule);
    if (mark.find()) {
      long value = Long.decode(mark.group(1));
      if (Long.decode(mark.group(2)) != space.mask()
          || (value & ~space.mask()) != 0
          || value == 0) {
        return Optional.empty();
      }
      long table = space.table((int) (value >>> space.shift()));
      ObservedRoutes own = routes.get(f);
      String gw = own == null ? null : own.defaultGateways().get(table);
      if (gw == null) {
        return Optional.empty();
      }
      // one table per gateway node: any family's gateway IP of this table names the node
      String node = "unknown-gateway-table-" + table;
      for (ObservedRoutes r : routes.values()) {
        String ip = r.defaultGateways().get(table);
        if (ip != null && nodeByGatewayIp.containsKey(ip)) {
          node = nodeByGatewayIp.get(ip);
          break;
        }
      }
      return Optional.of(
          new Entry(
              service,
              f,
              Role.Forward,
              REASON,
              Optional.of(node),
              Optional.of(gw),
              Optional.empty(),
              sources));
    }
    Matcher snat = SNAT.matcher(rule);
    if (snat.find()) {
      return Optional.of(
          new Entry(
              service,
              f,
              Role.Gateway,
              REASON,
              Optional.empty(),
              Optional.empty(),
              Optional.of(snat.group(1)),
              sources));
    }
    if (rule.contains("-j REJECT")) {
      return Optional.of(
          new Entry(
              service,
              f,
              Role.Reject,
              REASON,
              Optional.empty(),
              Optional.empty(),
              Optional.empty(),
              sources));
    }
    return Optional.empty();
  }
}
