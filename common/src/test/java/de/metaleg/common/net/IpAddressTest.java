package de.metaleg.common.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The controller's IpAddr cases and the agent's (its IpAddresses was tested through PlanConverter
 * and AgentConfig), together. The two parsers disagreed only on surrounding whitespace (the agent
 * trimmed it, the controller rejected it): both now reject it. Addresses: documentation ranges
 * (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32), pod ranges 10.244.0.0/16 and fd00:10:244::/48.
 */
class IpAddressTest {
  @ParameterizedTest(name = "{0} is canonically {1}")
  @CsvSource({
    "198.51.100.10, 198.51.100.10",
    "0.0.0.0, 0.0.0.0",
    "255.255.255.255, 255.255.255.255",
    "2001:DB8::1, 2001:db8::1",
    "2001:db8:0:0:0:0:0:1, 2001:db8::1",
    "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1",
    "2001:0:0:1:0:0:0:1, 2001:0:0:1::1",
    "::, ::",
    "::1, ::1",
    "fe80::, fe80::",
    "2001:db8:1:2:3:4:5:6, 2001:db8:1:2:3:4:5:6",
    "2001:db8::0:1:0, 2001:db8::1:0",
    "FD00:10:244:1:0::5, fd00:10:244:1::5",
    "2001:db8:0:1:0:0:0:0, 2001:db8:0:1::",
    "2001:db8:0:0:1:2:3:4, 2001:db8::1:2:3:4",
    "2001:0db8:0000:0001:0002:0003:0004:0005, 2001:db8:0:1:2:3:4:5"
  })
  void canonicalText(String in, String out) {
    assertEquals(out, IpAddress.parse(in).orElseThrow().toString());
  }

  @ParameterizedTest(name = "\"{0}\" is not an address")
  @ValueSource(
      strings = {
        "",
        "198.51.100",
        "198.51.100.256",
        "10.244.1.500",
        "198.51.100.1.",
        "198.51.100.01",
        "1.2.3.4.5",
        "example.com",
        "localhost",
        "2001:db8::zz",
        "2001:db8::1%eth0",
        "[2001:db8::1]",
        "2001:db8::/64",
        "::ffff:1.2.3.4",
        "2001:db8:::1",
        ".::1",
        // surrounding whitespace: the agent used to trim it, the controller rejected it
        " 1.2.3.4",
        "1.2.3.4 ",
        "\t10.244.1.5",
        " ::1",
        "::1\n"
      })
  void rejects(String in) {
    assertEquals(Optional.empty(), IpAddress.parse(in));
  }

  @Test
  void rejectsNull() {
    assertEquals(Optional.empty(), IpAddress.parse(null));
    assertEquals(Optional.empty(), IpAddress.parse(Family.V4, null));
  }

  @Test
  void parsingForAFamilyRejectsTheOther() {
    assertEquals("fd00::1", IpAddress.parse(Family.V6, "fd00::1").orElseThrow().toString());
    assertEquals(Optional.empty(), IpAddress.parse(Family.V4, "fd00::1"));
    assertEquals("10.244.1.5", IpAddress.parse(Family.V4, "10.244.1.5").orElseThrow().toString());
    assertEquals(Optional.empty(), IpAddress.parse(Family.V6, "10.244.1.5"));
    assertEquals(Family.V6, IpAddress.parse("::1.2.3.4").orElseThrow().family());
  }

  @Test
  void ordersNumericallyIPv4First() {
    List<String> sorted =
        List.of("2001:db8::2", "10.0.0.10", "10.0.0.9", "2001:db8::10", "9.255.255.255").stream()
            .map(s -> IpAddress.parse(s).orElseThrow())
            .sorted()
            .map(IpAddress::toString)
            .toList();
    assertEquals(
        List.of("9.255.255.255", "10.0.0.9", "10.0.0.10", "2001:db8::2", "2001:db8::10"), sorted);
    assertTrue(IpAddress.parse("ffff::").orElseThrow().compareTo(IpAddress.parse("::1").get()) > 0);
  }

  @ParameterizedTest(name = "{0}/{1} is the network {2}")
  @CsvSource({
    "10.1.2.3, 8, 10.0.0.0",
    "10.1.2.3, 32, 10.1.2.3",
    "10.1.2.3, 0, 0.0.0.0",
    "192.0.2.255, 25, 192.0.2.128",
    "2001:db8:ffff::1, 32, 2001:db8::",
    "2001:db8::ffff:1, 64, 2001:db8::",
    "2001:db8::ffff:ffff, 112, 2001:db8::ffff:0",
    "2001:db8::1, 128, 2001:db8::1",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 65, ffff:ffff:ffff:ffff:8000::",
    "ffff::1, 0, ::"
  })
  void networkClearsTheHostBits(String ip, int prefix, String network) {
    assertEquals(network, IpAddress.parse(ip).orElseThrow().network(prefix).toString());
  }

  @Test
  void networkPrefixMustFitTheFamily() {
    IpAddress v4 = IpAddress.parse("10.0.0.1").orElseThrow();
    assertThrows(IllegalArgumentException.class, () -> v4.network(33));
    assertThrows(IllegalArgumentException.class, () -> v4.network(-1));
    assertEquals(
        "2001:db8::", IpAddress.parse("2001:db8::1").orElseThrow().network(127).toString());
  }

  @Test
  void anIPv4AddressHasOnly32Bits() {
    assertThrows(IllegalArgumentException.class, () -> new IpAddress(Family.V4, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new IpAddress(Family.V4, 0, 1L << 32));
    assertThrows(IllegalArgumentException.class, () -> new IpAddress(null, 0, 0));
  }
}
