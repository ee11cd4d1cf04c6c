package de.metaleg.agent.render;

import static org.junit.jupiter.api.Assertions.assertEquals;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.plan.Conversion;
import de.metaleg.agent.plan.PlanConverter;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.common.net.Family;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Golden files: each directory under {@code src/test/resources/render/} holds {@code plan.yaml} (an
 * EgressPlan spec), optionally {@code previous-allocation.properties} (node=index) and {@code
 * unroutable.txt} (node/IPv4 lines), {@code transition.txt} (lines {@code quarantine <ip>}, {@code
 * settling <ip>} and {@code uplink <interface>}: the transition protocol's additions to the plan),
 * and the expected payloads rendered from an empty kernel with the default configuration (mask
 * 0x00F00000, tables 100001.., default exclude CIDRs): {@code ipset.restore}, {@code
 * ip(6)tables.restore} and {@code ip-4/-6.batch} for the iptables backend, {@code nftables.nft}
 * (one {@code nft -f} transaction) for the nftables backend. Run with {@code
 * -Dmetaleg.updateGolden=true} to rewrite the expected files, then review the diff.
 *
 * <p>Test addresses: pods 10.244.x.y / fd00:10:244::x, node InternalIPs 192.0.2.x / 2001:db8::x, LB
 * IPs 198.51.100.x / 2001:db8:100::x.
 */
class DataplaneRendererGoldenTest {
  private static final Path ROOT = Path.of("src/test/resources/render");

  static Stream<String> cases() throws IOException {
    try (Stream<Path> dirs = Files.list(ROOT)) {
      return dirs
          .filter(Files::isDirectory)
          .map(p -> p.getFileName().toString())
          .sorted()
          .toList()
          .stream();
    }
  }

  @ParameterizedTest
  @MethodSource("cases")
  void rendersGoldenPayloads(String name) throws IOException {
    Path dir = ROOT.resolve(name);
    Map<String, String> actual = renderCase(dir);
    boolean update = Boolean.getBoolean("metaleg.updateGolden");
    for (Map.Entry<String, String> e : actual.entrySet()) {
      Path file = dir.resolve(e.getKey());
      if (update) {
        Files.writeString(file, e.getValue());
      }
      assertEquals(Files.readString(file), e.getValue(), name + "/" + e.getKey());
    }
  }

  static Map<String, String> renderCase(Path dir) throws IOException {
    EgressPlanSpec spec =
        Serialization.unmarshal(Files.readString(dir.resolve("plan.yaml")), EgressPlanSpec.class);
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    NodeFacts facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
    Conversion conversion = PlanConverter.convert(spec, Map.of());
    Map<String, Integer> previous = new TreeMap<>();
    Path prev = dir.resolve("previous-allocation.properties");
    if (Files.exists(prev)) {
      for (String line : Files.readAllLines(prev)) {
        String[] kv = line.split("=");
        previous.put(kv[0].trim(), Integer.parseInt(kv[1].trim()));
      }
    }
    Set<GatewayFamily> unroutable = new HashSet<>();
    Path unr = dir.resolve("unroutable.txt");
    if (Files.exists(unr)) {
      for (String line : Files.readAllLines(unr)) {
        String[] p = line.split("/");
        unroutable.add(new GatewayFamily(p[0], p[1].equals("IPv4") ? Family.V4 : Family.V6));
      }
    }
    Path tr = dir.resolve("transition.txt");
    DesiredPlan plan = conversion.plan();
    if (Files.exists(tr)) {
      Map<String, java.util.Collection<String>> extra = new TreeMap<>();
      for (String line : Files.readAllLines(tr)) {
        String[] p = line.trim().split("\\s+");
        extra.computeIfAbsent(p[0], k -> new java.util.TreeSet<>()).add(p[1]);
      }
      plan =
          plan.withQuarantine(Set.copyOf(extra.getOrDefault("quarantine", Set.of())))
              .withUplinks(List.copyOf(extra.getOrDefault("uplink", Set.of())))
              .withSettling(Set.copyOf(extra.getOrDefault("settling", Set.of())));
    }
    Map<String, Integer> allocation =
        MarkAllocator.allocate(
            previous, MarkAllocator.gatewayNodes(conversion.plan()), config.markSpace().maxIndex());
    DesiredState state = DataplaneRenderer.render(plan, facts, allocation, unroutable);

    Map<String, String> out = new LinkedHashMap<>();
    out.put("ipset.restore", IpsetPayloads.install(state.sets(), Map.of(), false));
    for (Family f : Family.values()) {
      String file = f == Family.V4 ? "iptables.restore" : "ip6tables.restore";
      out.put(
          file, String.join("", IptablesPayloads.render(state, config.markSpace(), f).values()));
      out.put(
          "ip" + f.ipFlag() + ".batch",
          RoutePayloads.install(state.routes(f), state.policyRules(f), ObservedRoutes.empty(f)));
    }
    out.put(
        "nftables.nft",
        NftPayloads.full(
            NftPayloads.state(state, config.markSpace()), config.markSpace(), Set.of()));
    StringBuilder summary = new StringBuilder();
    List<String> problems = new java.util.ArrayList<>(conversion.problems());
    problems.addAll(state.problems());
    problems.forEach(p -> summary.append("problem: ").append(p).append('\n'));
    state
        .gateways()
        .forEach(
            g ->
                summary.append(
                    "gateway: %s mark %s table %d%n"
                        .formatted(
                            g.node(), de.metaleg.agent.model.MarkSpace.hex(g.mark()), g.table())));
    new TreeMap<>(state.counts())
        .forEach((r, n) -> summary.append("count ").append(r).append(": ").append(n).append('\n'));
    out.put("summary.txt", summary.toString());
    return out;
  }
}
