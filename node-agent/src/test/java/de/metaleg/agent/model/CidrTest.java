package de.metaleg.agent.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.common.net.Family;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Prefixes in the documentation ranges (192.0.2.0/24, 2001:db8::/32) and 10.0.0.0/8. */
class CidrTest {
  @ParameterizedTest(name = "\"{0}\" is {1} ({2})")
  @CsvSource(
      delimiter = '|',
      value = {
        "10.1.2.3/8|10.0.0.0/8|V4",
        "192.0.2.7|192.0.2.7|V4",
        "192.0.2.7/32|192.0.2.7|V4",
        "192.0.2.255/25|192.0.2.128/25|V4",
        "10.0.0.0/08|10.0.0.0/8|V4",
        "' 10.1.2.3/8 '|10.0.0.0/8|V4",
        "2001:DB8:0:0::1/32|2001:db8::/32|V6",
        "2001:db8::1|2001:db8::1|V6",
        "2001:db8::1/128|2001:db8::1|V6",
        "2001:db8::ffff:1/112|2001:db8::ffff:0/112|V6",
        "::/0|::/0|V6"
      })
  void parsesToCanonicalText(String in, String text, Family family) {
    Cidr c = Cidr.parse(in).orElseThrow();
    assertEquals(text, c.text());
    assertEquals(family, c.family());
  }

  @ParameterizedTest(name = "\"{0}\" is not a CIDR")
  @ValueSource(
      strings = {
        "10.0.0.0/33",
        "2001:db8::/129",
        "10.0.0.0/",
        "10.0.0.0/-1",
        "10.0.0.0/1234",
        "10.0.0.0/ 8",
        "10.0.0.0 /8",
        "example.com",
        "example.com/8",
        "10.0.0.256/8",
        "::ffff:10.0.0.0/104",
        ""
      })
  void rejects(String in) {
    assertEquals(Optional.empty(), Cidr.parse(in));
  }

  @ParameterizedTest(name = "{0} contains {1}: {2}")
  @CsvSource({
    "10.0.0.0/8, 10.255.255.255, true",
    "10.0.0.0/8, 11.0.0.0, false",
    "10.0.0.0/8, 9.255.255.255, false",
    "192.0.2.128/25, 192.0.2.127, false",
    "192.0.2.128/25, 192.0.2.128, true",
    "192.0.2.7, 192.0.2.7, true",
    "192.0.2.7, 192.0.2.8, false",
    "2001:db8::/32, 2001:db8:ffff::1, true",
    "2001:db8::/32, 2001:db9::1, false",
    "2001:db8::/32, 10.0.0.1, false",
    "10.0.0.0/8, 2001:db8::1, false",
    "10.0.0.0/8, not-an-ip, false"
  })
  void contains(String cidr, String ip, boolean inside) {
    assertEquals(inside, Cidr.parse(cidr).orElseThrow().contains(ip));
  }

  @org.junit.jupiter.api.Test
  void theNetworkIsStoredWithItsHostBitsCleared() {
    Cidr c = Cidr.parse("10.1.2.3/8").orElseThrow();
    assertEquals(new Cidr(c.network(), 8), c);
    assertTrue(c.contains("10.1.2.3"));
    assertFalse(c.contains("10.1.2.3 "));
  }
}
