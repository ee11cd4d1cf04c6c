package de.metaleg.controller.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class IpAddrTest {
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
    "2001:db8::0:1:0, 2001:db8::1:0"
  })
  void canonicalText(String in, String out) {
    assertEquals(out, IpAddr.parse(in).orElseThrow().toString());
  }

  @ParameterizedTest(name = "\"{0}\" is not an address")
  @ValueSource(
      strings = {
        "",
        "198.51.100",
        "198.51.100.256",
        "198.51.100.1.",
        "198.51.100.01",
        "1.2.3.4.5",
        "example.com",
        "2001:db8::1%eth0",
        "[2001:db8::1]",
        "2001:db8::/64",
        "::ffff:1.2.3.4",
        "2001:db8:::1",
        " 1.2.3.4"
      })
  void rejects(String in) {
    assertEquals(Optional.empty(), IpAddr.parse(in));
  }

  @org.junit.jupiter.api.Test
  void ordersNumericallyIPv4First() {
    List<String> sorted =
        List.of("2001:db8::2", "10.0.0.10", "10.0.0.9", "2001:db8::10", "9.255.255.255").stream()
            .map(s -> IpAddr.parse(s).orElseThrow())
            .sorted()
            .map(IpAddr::toString)
            .toList();
    assertEquals(
        List.of("9.255.255.255", "10.0.0.9", "10.0.0.10", "2001:db8::2", "2001:db8::10"), sorted);
    assertTrue(IpAddr.parse("ffff::").orElseThrow().compareTo(IpAddr.parse("::1").get()) > 0);
  }
}
