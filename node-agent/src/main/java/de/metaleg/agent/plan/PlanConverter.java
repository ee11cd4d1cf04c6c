package de.metaleg.agent.plan;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import de.metaleg.common.net.IpAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Converts the plan's POJO entries into validated {@link Entry} records, one per family.
 *
 * <p>A bad entry (invalid IP, unknown role, Forward without gateway IP, ...) blocks only itself:
 * the other entries are programmed, and for the bad entry's Service the entries that were last
 * programmed successfully stay as they were (if it never was good, nothing is programmed for it).
 * Each problem names the entry so the Degraded condition can say which one to fix.
 */
public final class PlanConverter {
  private static final Pattern SERVICE =
      Pattern.compile("[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?");

  private PlanConverter() {}

  /** {@link #validate} then {@link #keepLastGood}. */
  public static Conversion convert(EgressPlanSpec spec, Map<String, List<Entry>> lastGood) {
    return keepLastGood(validate(spec), lastGood);
  }

  /** Checks each entry on its own; an invalid one contributes a problem and no entries. */
  public static Validation validate(EgressPlanSpec spec) {
    List<Entry> good = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    Set<String> badServices = new HashSet<>();
    Set<String> seenKeys = new HashSet<>();
    List<EgressEntry> entries = spec == null ? List.of() : spec.getEntries();
    for (int i = 0; i < entries.size(); i++) {
      EgressEntry raw = entries.get(i);
      String name = raw.getService() == null ? "entries[" + i + "]" : raw.getService();
      List<String> errors = new ArrayList<>();
      List<Entry> converted = convertOne(raw, errors);
      for (Entry e : converted) {
        if (!seenKeys.add(e.key())) {
          errors.add("a second entry for " + e.family().label());
        }
      }
      if (!errors.isEmpty()) {
        problems.add("entry " + name + ": " + String.join("; ", errors));
        badServices.add(name);
        continue;
      }
      good.addAll(converted);
    }
    return new Validation(good, problems, badServices);
  }

  /**
   * The plan to program: the valid entries, and for each Service with an invalid entry its entries
   * from {@code lastGood} (unless a valid entry of the same Service and family replaces one).
   */
  public static Conversion keepLastGood(Validation valid, Map<String, List<Entry>> lastGood) {
    List<Entry> good = new ArrayList<>(valid.good());
    Map<String, List<Entry>> goodByService = new TreeMap<>();
    good.forEach(e -> goodByService.computeIfAbsent(e.service(), s -> new ArrayList<>()).add(e));
    Set<String> validKeys = new HashSet<>();
    good.forEach(e -> validKeys.add(e.key()));
    for (String service : valid.badServices()) {
      for (Entry kept : lastGood.getOrDefault(service, List.of())) {
        if (validKeys.contains(kept.key())) {
          continue; // a good entry of the same service and family replaces it
        }
        good.add(kept);
        goodByService.computeIfAbsent(service, s -> new ArrayList<>()).add(kept);
      }
    }
    Map<String, List<Entry>> carry = new HashMap<>();
    goodByService.forEach((k, v) -> carry.put(k, List.copyOf(v)));
    return new Conversion(new DesiredPlan(good), valid.problems(), carry);
  }

  private static List<Entry> convertOne(EgressEntry raw, List<String> errors) {
    if (raw.getService() == null || !SERVICE.matcher(raw.getService()).matches()) {
      errors.add("service \"" + raw.getService() + "\" is not namespace/name");
    }
    Optional<Role> role = Role.parse(raw.getRole());
    if (role.isEmpty()) {
      errors.add("unknown role \"" + raw.getRole() + "\" (expected Gateway, Forward or Reject)");
    }
    List<Entry> out = new ArrayList<>();
    for (Family f : Family.values()) {
      List<String> rawSources = f == Family.V4 ? raw.getSourceIPv4s() : raw.getSourceIPv6s();
      List<String> sources = new ArrayList<>();
      for (String s : rawSources == null ? List.<String>of() : rawSources) {
        IpAddress.parse(f, s)
            .map(IpAddress::toString)
            .ifPresentOrElse(
                sources::add,
                () -> errors.add("source \"" + s + "\" is not an " + f.label() + " address"));
      }
      Optional<String> gw =
          optionalIp(
              f, f == Family.V4 ? raw.getGatewayIPv4() : raw.getGatewayIPv6(), "gateway", errors);
      Optional<String> snat =
          optionalIp(f, f == Family.V4 ? raw.getSnatIPv4() : raw.getSnatIPv6(), "snat", errors);
      if (sources.isEmpty() || role.isEmpty()) {
        continue;
      }
      Optional<String> gwNode = Optional.ofNullable(raw.getGatewayNode()).filter(n -> !n.isBlank());
      switch (role.get()) {
        case Forward -> {
          if (gwNode.isEmpty()) {
            errors.add("Forward entry without gatewayNode");
          }
          if (gw.isEmpty()) {
            errors.add("Forward entry with " + f.label() + " sources but no gateway" + f.label());
          }
        }
        case Gateway -> {
          if (snat.isEmpty()) {
            errors.add("Gateway entry with " + f.label() + " sources but no snat" + f.label());
          }
        }
        case Reject -> {}
      }
      if (errors.isEmpty()) {
        out.add(
            new Entry(
                raw.getService(),
                f,
                role.get(),
                raw.getReason(),
                gwNode,
                role.get() == Role.Forward ? gw : Optional.empty(),
                snat,
                sources));
      }
    }
    return out;
  }

  private static Optional<String> optionalIp(
      Family f, String value, String what, List<String> errors) {
    if (value == null || value.isBlank()) {
      return Optional.empty();
    }
    Optional<String> ip = IpAddress.parse(f, value).map(IpAddress::toString);
    if (ip.isEmpty()) {
      errors.add(what + f.label() + " \"" + value + "\" is not an " + f.label() + " address");
    }
    return ip;
  }
}
