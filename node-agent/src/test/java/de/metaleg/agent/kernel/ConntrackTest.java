package de.metaleg.agent.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.render.ConntrackEntry;
import de.metaleg.common.net.Family;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The listing of both families. IPs: pods 10.244.1.5 / fd44::5, external host 203.0.113.10 /
 * 2001:db8:203::10 (documentation ranges).
 */
class ConntrackTest {
  static final String V4 =
      "tcp 6 431999 ESTABLISHED src=10.244.1.5 dst=203.0.113.10 sport=40000 dport=8080"
          + " src=203.0.113.10 dst=10.244.1.5 sport=8080 dport=40000 [ASSURED] mark=0 use=1";
  static final String V6 =
      "tcp 6 431999 ESTABLISHED src=fd44::5 dst=2001:db8:203::10 sport=40000 dport=8080"
          + " src=2001:db8:203::10 dst=fd44::5 sport=8080 dport=40000 [ASSURED] mark=0 use=1";

  @Test
  void bothFamiliesAreListedAtTheSameTime() {
    // Each listing answers only once the other one has started: run one after the other, the
    // first would give up after 5 s and fail the listing.
    Map<String, CountDownLatch> started =
        Map.of("ipv4", new CountDownLatch(1), "ipv6", new CountDownLatch(1));
    CommandRunner runner =
        (argv, stdin) -> {
          String family = argv.get(3);
          started.get(family).countDown();
          String other = family.equals("ipv4") ? "ipv6" : "ipv4";
          try {
            if (!started.get(other).await(5, TimeUnit.SECONDS)) {
              return new CommandRunner.Result(1, "", "the " + other + " listing never started");
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return new CommandRunner.Result(0, (family.equals("ipv4") ? V4 : V6) + "\n", "");
        };

    List<ConntrackEntry> all = new Conntrack(runner).list();

    assertEquals(List.of(Family.V4, Family.V6), all.stream().map(ConntrackEntry::family).toList());
    assertEquals(
        List.of("10.244.1.5", "fd44::5"), all.stream().map(ConntrackEntry::origSrc).toList());
  }

  @Test
  void aFailedIpv6ListingFailsTheListingNamingTheCommand() {
    CommandRunner runner =
        (argv, stdin) ->
            argv.contains("ipv6")
                ? new CommandRunner.Result(1, "", "conntrack v1.4.7: Operation failed")
                : new CommandRunner.Result(0, V4 + "\n", "");

    DataplaneException e =
        assertThrows(DataplaneException.class, () -> new Conntrack(runner).list());

    assertTrue(e.getMessage().contains("conntrack -L -f ipv6"), e.getMessage());
  }
}
