package de.metaleg.agent.render;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Reading the guard rules' packet counters back, and totals across chain rewrites. */
class GuardCountersTest {
  @Test
  void readsIptablesListings() {
    String listing =
        """
        Chain METALEG-FORWARD (1 references)
            pkts      bytes target     prot opt in     out     source               destination
               0        0 RETURN     all  --  *      *       0.0.0.0/0            0.0.0.0/0            ctdir REPLY
               7      420 DROP       all  --  *      *       0.0.0.0/0            0.0.0.0/0            mark match ! 0x0/0xf00000 ctstate SNAT /* metaleg guard marked-snat */
               3      180 DROP       all  --  *      *       0.0.0.0/0            0.0.0.0/0            match-set metaleg-src4-1 src ctstate INVALID /* metaleg guard invalid shop/web */
               2      120 DROP       all  --  *      *       0.0.0.0/0            0.0.0.0/0            match-set metaleg-src4-2 src ctstate INVALID /* metaleg guard invalid shop/api */
               5      300 REJECT     tcp  --  *      *       0.0.0.0/0            0.0.0.0/0            match-set metaleg-src4-3 src /* metaleg reject shop/batch */ reject-with tcp-reset
        """;
    Map<String, Long> got = GuardCounters.fromIptables(listing, new TreeMap<>());
    assertEquals(Map.of("marked-snat", 7L, "invalid", 5L), got);
    assertEquals(
        Map.of("marked-snat", 8L, "invalid", 10L),
        GuardCounters.fromIptables(listing.replace("    7      420", "    1       60"), got),
        "a second family adds up");
  }

  @Test
  void readsNftListings() {
    String listing =
        """
        table inet metaleg {
        	chain forward {
        		ct direction reply return
        		ip saddr @lb4 counter packets 4 bytes 240 drop comment "metaleg guard lb-source"
        		ip6 saddr @lb6 counter packets 1 bytes 80 drop comment "metaleg guard lb-source"
        		ip saddr @quar4 counter packets 9 bytes 540 drop comment "metaleg guard quarantine"
        	}
        }
        """;
    assertEquals(Map.of("lb-source", 5L, "quarantine", 9L), GuardCounters.fromNft(listing));
  }

  @Test
  void totalsSurviveAChainRewrite() {
    GuardCounters totals = new GuardCounters();
    assertEquals(4L, totals.update(Map.of("quarantine", 4L)).get("quarantine"));
    assertEquals(6L, totals.update(Map.of("quarantine", 6L)).get("quarantine"));
    assertEquals(8L, totals.update(Map.of("quarantine", 2L)).get("quarantine"), "reset to 0, +2");
    assertEquals(0L, totals.update(Map.of()).get("stray-reply"), "every guard is reported");
  }
}
