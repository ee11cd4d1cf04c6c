package de.metaleg.agent.render;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import de.metaleg.common.net.Family;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The {@code ipset restore} payloads against a kernel that already holds sets: the golden files
 * only render into an empty one. Pods 10.244.1.x, pod CIDRs 10.244.0.0/16, IPv6 pods fd00::x. Sets
 * are named literally ({@code metaleg-src4-web}), the payloads only care about the prefix.
 */
class IpsetPayloadsTest {
  private static final String WEB = "metaleg-src4-web";
  private static final String API = "metaleg-src4-api";

  private static IpSetSpec want(String name, String... members) {
    return new IpSetSpec(name, Family.V4, IpSetSpec.HASH_IP, List.of(members));
  }

  private static ObservedSet have(String name, String... members) {
    return new ObservedSet(name, IpSetSpec.HASH_IP, Family.V4, List.of(members));
  }

  private static Map<String, ObservedSet> kernel(ObservedSet... sets) {
    Map<String, ObservedSet> out = new LinkedHashMap<>();
    Arrays.stream(sets).forEach(s -> out.put(s.name(), s));
    return out;
  }

  @Test
  void aSetTheKernelLacksIsCreatedAndFilledOnEitherPath() {
    String expected =
        """
        create metaleg-src4-web hash:ip family inet -exist
        add metaleg-src4-web 10.244.1.5 -exist
        add metaleg-src4-web 10.244.1.6 -exist
        """;
    List<IpSetSpec> desired = List.of(want(WEB, "10.244.1.6", "10.244.1.5"));
    assertEquals(expected, IpsetPayloads.install(desired, Map.of(), false), "incremental");
    assertEquals(expected, IpsetPayloads.install(desired, Map.of(), true), "full (swap) sync");
  }

  @Test
  void aV6NetSetIsCreatedWithItsFamilyAndType() {
    IpSetSpec excl =
        new IpSetSpec(
            Names.excludeSet(Family.V6), Family.V6, IpSetSpec.HASH_NET, List.of("fd00::/64"));
    assertEquals(
        """
        create metaleg-excl6 hash:net family inet6 -exist
        add metaleg-excl6 fd00::/64 -exist
        """,
        IpsetPayloads.install(List.of(excl), Map.of(), false));
  }

  @Test
  void anUnchangedSetSendsNothingOnEitherPath() {
    List<IpSetSpec> desired = List.of(want(WEB, "10.244.1.5", "10.244.1.6"));
    // the kernel lists members in its own order; the comparison is on the sorted members
    Map<String, ObservedSet> current = kernel(have(WEB, "10.244.1.6", "10.244.1.5"));
    assertEquals("", IpsetPayloads.install(desired, current, false));
    assertEquals("", IpsetPayloads.install(desired, current, true));
  }

  @Test
  void anIncrementalSyncAddsBeforeTheRulesChangeAndDeletesAfter() {
    List<IpSetSpec> desired = List.of(want(WEB, "10.244.1.5", "10.244.1.7"));
    Map<String, ObservedSet> current = kernel(have(WEB, "10.244.1.5", "10.244.1.6"));
    String grow = "add metaleg-src4-web 10.244.1.7 -exist\n";
    String shrink = "del metaleg-src4-web 10.244.1.6 -exist\n";
    assertEquals(grow, IpsetPayloads.grow(desired, current), "before the rules: only adds");
    assertEquals(shrink, IpsetPayloads.shrink(desired, current, false), "after: only deletes");
    assertEquals(grow + shrink, IpsetPayloads.install(desired, current, false));
  }

  @Test
  void theGatewaySetGrantsPassageOnlyOnceTheRulesExistAndRevokesItBefore() {
    // metaleg-gw4 exempts its members from the transit guard: a member whose SNAT rule is not in
    // place yet would leave masqueraded; so it gains members after the rules, loses them before
    String gw = Names.gatewaySet(Family.V4);
    List<IpSetSpec> desired =
        List.of(want(gw, "10.244.1.5", "10.244.1.7"), want(WEB, "10.244.1.7"));
    Map<String, ObservedSet> current =
        kernel(have(gw, "10.244.1.5", "10.244.1.6"), have(WEB, "10.244.1.6"));
    assertEquals(
        """
        del metaleg-gw4 10.244.1.6 -exist
        add metaleg-src4-web 10.244.1.7 -exist
        """,
        IpsetPayloads.grow(desired, current));
    assertEquals(
        """
        add metaleg-gw4 10.244.1.7 -exist
        del metaleg-src4-web 10.244.1.6 -exist
        """,
        IpsetPayloads.shrink(desired, current, false));
    assertEquals(
        """
        create metaleg-gw4 hash:ip family inet -exist
        """,
        IpsetPayloads.grow(List.of(want(gw, "10.244.1.5")), Map.of()),
        "a new gateway set starts empty");
    assertEquals(
        "add metaleg-gw4 10.244.1.5 -exist\n",
        IpsetPayloads.shrink(List.of(want(gw, "10.244.1.5")), Map.of(), true));
  }

  @Test
  void aSetThatOnlyGainsMembersIsNeitherPatchedNorSwappedAfterTheRules() {
    List<IpSetSpec> desired = List.of(want(WEB, "10.244.1.5", "10.244.1.7"));
    Map<String, ObservedSet> current = kernel(have(WEB, "10.244.1.5"));
    assertEquals("", IpsetPayloads.shrink(desired, current, false));
    assertEquals("", IpsetPayloads.shrink(desired, current, true));
  }

  @Test
  void anIncrementalSyncEmptiesASetWithoutDestroyingIt() {
    Map<String, ObservedSet> current = kernel(have(WEB, "10.244.1.5"));
    assertEquals(
        "del metaleg-src4-web 10.244.1.5 -exist\n",
        IpsetPayloads.install(List.of(want(WEB)), current, false));
  }

  @Test
  void aFullSyncSwapsTheExactContentsInAfterTheRulesThroughOneScratchSet() {
    // two changed sets of one family and type share one scratch set: created once, flushed before
    // each fill, destroyed after the last swap; the unchanged set in between sends nothing
    List<IpSetSpec> desired =
        List.of(
            want(API, "10.244.1.9"),
            want("metaleg-src4-db", "10.244.1.3"),
            want(WEB, "10.244.1.5", "10.244.1.7"));
    Map<String, ObservedSet> current =
        kernel(
            have(API, "10.244.1.8"),
            have("metaleg-src4-db", "10.244.1.3"),
            have(WEB, "10.244.1.5", "10.244.1.6"));
    assertEquals(
        """
        create metaleg-tmp4 hash:ip family inet -exist
        flush metaleg-tmp4
        add metaleg-tmp4 10.244.1.9
        swap metaleg-tmp4 metaleg-src4-api
        flush metaleg-tmp4
        add metaleg-tmp4 10.244.1.5
        add metaleg-tmp4 10.244.1.7
        swap metaleg-tmp4 metaleg-src4-web
        destroy metaleg-tmp4
        """,
        IpsetPayloads.shrink(desired, current, true));
    assertEquals(
        """
        add metaleg-src4-api 10.244.1.9 -exist
        add metaleg-src4-web 10.244.1.7 -exist
        """,
        IpsetPayloads.grow(desired, current),
        "before the rules, the new members join the live sets");
  }

  @Test
  void eachFamilyAndTypeHasItsOwnScratchSetBecauseSwapNeedsMatchingSets() {
    String v6 = Names.sourceSet("shop/web", Family.V6);
    String excl = Names.excludeSet(Family.V4);
    List<IpSetSpec> desired =
        List.of(
            new IpSetSpec(v6, Family.V6, IpSetSpec.HASH_IP, List.of("fd00::6")),
            new IpSetSpec(excl, Family.V4, IpSetSpec.HASH_NET, List.of("10.244.0.0/16")));
    Map<String, ObservedSet> current =
        kernel(
            new ObservedSet(v6, IpSetSpec.HASH_IP, Family.V6, List.of("fd00::5")),
            new ObservedSet(excl, IpSetSpec.HASH_NET, Family.V4, List.of("10.96.0.0/12")));
    assertEquals(
        """
        create metaleg-tmp6 hash:ip family inet6 -exist
        flush metaleg-tmp6
        add metaleg-tmp6 fd00::6
        swap metaleg-tmp6 %s
        create metaleg-tmp4-net hash:net family inet -exist
        flush metaleg-tmp4-net
        add metaleg-tmp4-net 10.244.0.0/16
        swap metaleg-tmp4-net metaleg-excl4
        destroy metaleg-tmp6
        destroy metaleg-tmp4-net
        """
            .formatted(v6),
        IpsetPayloads.shrink(desired, current, true));
  }

  @Test
  void installNeverDestroysAndStaleRemovalDestroysOnlyUnwantedMetalegSets() {
    List<IpSetSpec> desired = List.of(want(WEB, "10.244.1.5"));
    Map<String, ObservedSet> current =
        kernel(
            have(WEB, "10.244.1.5"),
            have("metaleg-src4-old", "10.244.1.2"),
            have("metaleg-quar4"),
            // another component's sets: never named in any payload
            have("KUBE-ROUTER-LOCAL-IPS", "10.0.0.1"),
            have("cali40all-hosts-net", "10.0.0.2"));
    assertEquals("", IpsetPayloads.install(desired, current, true), "install leaves extras alone");
    assertEquals(
        """
        destroy metaleg-quar4
        destroy metaleg-src4-old
        """,
        IpsetPayloads.removeStale(desired, current));
  }

  @Test
  void noPayloadNamesASetOutsideTheMetalegPrefix() {
    Map<String, ObservedSet> current =
        kernel(have(WEB, "10.244.1.6"), have("foreign-src4-web", "10.244.1.6"));
    List<IpSetSpec> desired = List.of(want(WEB, "10.244.1.5"), want(API, "10.244.1.9"));
    String all =
        IpsetPayloads.install(desired, current, false)
            + IpsetPayloads.install(desired, current, true)
            + IpsetPayloads.removeStale(desired, current)
            + IpsetPayloads.removeStale(List.of(), current);
    assertFalse(all.isEmpty());
    for (String line : all.split("\n")) {
      String[] words = line.split(" ");
      assertEquals(
          List.of(),
          Arrays.stream(words, 1, words[0].equals("swap") ? 3 : 2)
              .filter(n -> !n.startsWith(Names.SET_PREFIX))
              .toList(),
          "set names in: " + line);
    }
  }
}
