package de.metaleg.agent.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.model.Entry;
import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Pods 10.244.1.x / fd00:10:244:1::x, nodes 192.0.2.x / 2001:db8::x, LB 198.51.100.x. */
class PlanConverterTest {
  static EgressEntry forward() {
    EgressEntry e = new EgressEntry();
    e.setService("shop/web");
    e.setRole("Forward");
    e.setGatewayNode("node-b");
    e.setGatewayIPv4("192.0.2.2");
    e.setGatewayIPv6("2001:db8::2");
    e.setSourceIPv4s(List.of("10.244.1.5"));
    e.setSourceIPv6s(List.of("FD00:10:244:1:0::5"));
    return e;
  }

  static EgressEntry other() {
    EgressEntry e = new EgressEntry();
    e.setService("shop/api");
    e.setRole("Reject");
    e.setSourceIPv4s(List.of("10.244.1.6"));
    return e;
  }

  static Conversion convert(Map<String, List<Entry>> lastGood, EgressEntry... entries) {
    return PlanConverter.convert(new EgressPlanSpec("node-a", List.of(entries)), lastGood);
  }

  @Test
  void splitsPerFamilyAndCanonicalises() {
    Conversion c = convert(Map.of(), forward(), other());
    assertEquals(List.of(), c.problems());
    assertEquals(3, c.plan().entries().size());
    Entry v6 =
        c.plan().entries().stream().filter(e -> e.family() == Family.V6).findFirst().orElseThrow();
    assertEquals(List.of("fd00:10:244:1::5"), v6.sources());
    assertEquals("2001:db8::2", v6.gatewayIp().orElseThrow());
    assertEquals(Role.Forward, v6.role());
  }

  static List<Arguments> badEdits() {
    return List.of(
        Arguments.of(
            "invalid source IP",
            (Consumer<EgressEntry>) e -> e.setSourceIPv4s(List.of("10.244.1.500")),
            "10.244.1.500"),
        Arguments.of(
            "v6 address in the v4 list",
            (Consumer<EgressEntry>) e -> e.setSourceIPv4s(List.of("fd00::1")),
            "fd00::1"),
        Arguments.of(
            "hostname as source",
            (Consumer<EgressEntry>) e -> e.setSourceIPv4s(List.of("localhost")),
            "localhost"),
        Arguments.of(
            "source with surrounding whitespace (the controller never writes it)",
            (Consumer<EgressEntry>) e -> e.setSourceIPv4s(List.of(" 10.244.1.5")),
            "source \" 10.244.1.5\" is not an IPv4 address"),
        Arguments.of(
            "gateway IP with surrounding whitespace",
            (Consumer<EgressEntry>) e -> e.setGatewayIPv6("2001:db8::2\n"),
            "gatewayIPv6 \"2001:db8::2\n\" is not an IPv6 address"),
        Arguments.of(
            "unknown role",
            (Consumer<EgressEntry>) e -> e.setRole("forward"),
            "unknown role \"forward\""),
        Arguments.of(
            "Forward without gateway IP",
            (Consumer<EgressEntry>) e -> e.setGatewayIPv4(null),
            "no gatewayIPv4"),
        Arguments.of(
            "Forward without gateway node",
            (Consumer<EgressEntry>) e -> e.setGatewayNode(""),
            "without gatewayNode"),
        Arguments.of(
            "invalid gateway IP",
            (Consumer<EgressEntry>) e -> e.setGatewayIPv6("2001:db8::zz"),
            "2001:db8::zz"),
        Arguments.of(
            "Gateway without LB IP",
            (Consumer<EgressEntry>) e -> e.setRole("Gateway"),
            "no snatIPv4"),
        Arguments.of(
            "bad service name",
            (Consumer<EgressEntry>) e -> e.setService("shop/web\" -j ACCEPT"),
            "not namespace/name"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badEdits")
  void badEntryIsNamedAndKeepsItsLastGoodStateOnly(
      String desc, Consumer<EgressEntry> edit, String expected) {
    Conversion good = convert(Map.of(), forward(), other());
    EgressEntry bad = forward();
    edit.accept(bad);
    Conversion c = convert(good.lastGoodByService(), bad, other());
    assertEquals(1, c.problems().size(), c.problems().toString());
    assertTrue(c.problems().get(0).contains(expected), c.problems().get(0));
    assertTrue(c.problems().get(0).startsWith("entry "), c.problems().get(0));
    if (!desc.equals("bad service name")) {
      assertEquals(
          good.plan(), c.plan(), "last good state of the bad entry kept, others unchanged");
    }
  }

  @Test
  void newBadEntryProgramsNothingForItself() {
    EgressEntry bad = forward();
    bad.setRole("Teleport");
    Conversion c = convert(Map.of(), bad, other());
    assertEquals(1, c.plan().entries().size());
    assertEquals("shop/api", c.plan().entries().get(0).service());
  }

  @Test
  void duplicateFamilyOfOneServiceIsAProblem() {
    EgressEntry second = forward();
    second.setSourceIPv6s(List.of());
    Conversion c = convert(Map.of(), forward(), second);
    assertEquals(1, c.problems().size());
    assertTrue(c.problems().get(0).contains("a second entry for IPv4"), c.problems().get(0));
  }

  @Test
  void removedEntryIsRemoved() {
    Conversion good = convert(Map.of(), forward(), other());
    Conversion c = convert(good.lastGoodByService(), other());
    assertEquals(1, c.plan().entries().size());
    assertEquals(List.of(), c.problems());
  }

  @Test
  void invalidEntriesWithoutLastGoodAreTheOnesToRecover() {
    EgressEntry bad = forward();
    bad.setRole("Teleport");
    Validation v = PlanConverter.validate(new EgressPlanSpec("node-a", List.of(bad, other())));
    assertEquals(java.util.Set.of("shop/web"), v.badServices());
    assertEquals(java.util.Set.of("shop/web"), v.withoutLastGood(Map.of()));
    Map<String, List<Entry>> lastGood = convert(Map.of(), forward()).lastGoodByService();
    assertEquals(java.util.Set.of(), v.withoutLastGood(lastGood), "it has a last good state");
  }
}
