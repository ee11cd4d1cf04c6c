package de.metaleg.agent.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.kernel.XtablesMonitor.Commit;
import de.metaleg.agent.kernel.XtablesMonitor.Retries;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which nf_tables commits the canary must look at, from {@code xtables-monitor -e} lines as
 * xtables-monitor 1.8.9 prints them (captured next to nft 1.0.6 on Linux 6.18), and when it is
 * started again (one test runs {@code sh} and {@code sleep} as a monitor that never subscribes; no
 * root needed).
 */
class XtablesMonitorTest {
  private static List<Commit> commits(String... lines) {
    XtablesMonitor.Transactions t = new XtablesMonitor.Transactions();
    for (String line : lines) {
      assertTrue(t.line(line), line);
    }
    return t.drain();
  }

  @Test
  void kubeProxysChurnInItsOwnChainsIsNoChange() {
    assertEquals(
        List.of(new Commit(4539, false)),
        commits(
            " EVENT: -4 -t nat -N KUBE-SEP-X",
            " EVENT: -4 -t nat -A KUBE-SEP-X -j ACCEPT",
            " EVENT: -6 -t filter -D KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            "NEWGEN: GENID=36 PID=4539 NAME=iptables-nft"));
  }

  @Test
  void ourChainsTheBuiltinsHoldingOurJumpsAndNftObjectsMayBeChanges() {
    for (String event :
        List.of(
            " EVENT: -4 -t mangle -D METALEG-MARK -m set --match-set metaleg-excl4 dst -j RETURN",
            " EVENT: -4 -t nat -A POSTROUTING -j ACCEPT", // above our jump
            " EVENT: -6 -t filter -D FORWARD -j METALEG-FORWARD",
            " EVENT: -4 -t raw -A PREROUTING -j METALEG-MARK",
            " EVENT: ", // an nft rule (nft flush chain inet metaleg forward)
            " EVENT: nft: DEL table: table metaleg inet flags 0 use 0 handle 8")) {
      assertEquals(
          List.of(new Commit(7, true)), commits(event, "NEWGEN: GENID=9 PID=7 NAME=nft"), event);
    }
  }

  @Test
  void aCommitWithoutEventsChangedElements() {
    // nft flush map inet metaleg mark4: xtables-monitor prints no line for elements
    assertEquals(
        List.of(new Commit(2785, true), new Commit(2786, false)),
        commits(
            "NEWGEN: GENID=32 PID=2785 NAME=nft",
            " EVENT: -4 -t nat -A KUBE-SVC-1 -j ACCEPT",
            "NEWGEN: GENID=33 PID=2786 NAME=iptables-nft-restore"));
  }

  @Test
  void anythingElseIsNotUnderstood() {
    XtablesMonitor.Transactions t = new XtablesMonitor.Transactions();
    assertFalse(t.line("cannot receive from nfnetlink socket: No buffer space available"));
  }

  @Test
  void subscribedMeansANetfilterSocketOfTheProcessInTheNftablesGroup() {
    String table =
        """
        sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
        0000000044acba38 12  0          00000000 0        0        0     2        0        24033548
        0000000018a63c62 12  2935864185 00000040 0        0        0     2        0        24934264
        0000000006487f9c 12  19507      00000000 0        0        0     2        0        24934263
        """;
    assertTrue(XtablesMonitor.subscribed(table, Set.of("24934263", "24934264")));
    assertFalse(XtablesMonitor.subscribed(table, Set.of("24934263")), "not in the group");
    assertFalse(XtablesMonitor.subscribed(table, Set.of("24033548")), "not this process's");
  }

  @Test
  void failedStartsAreRetriedAfterABackOffThatDoublesUpTo5Minutes() {
    long s = 1_000_000_000L;
    Retries r = new Retries();
    assertTrue(r.due(0), "nothing failed yet");
    assertTrue(r.failed(0), "the first failure is the one to log");
    assertFalse(r.due(29 * s));
    assertTrue(r.due(30 * s));
    assertFalse(r.failed(30 * s), "logged once");
    assertFalse(r.due(89 * s));
    assertTrue(r.due(90 * s), "60 s after the second");
    long now = 90 * s;
    for (int i = 0; i < 20; i++) {
      r.failed(now);
    }
    assertFalse(r.due(now + 299 * s));
    assertTrue(r.due(now + 300 * s), "at most 5 minutes");
    assertTrue(r.succeeded(), "recovered: the one to log");
    assertFalse(r.succeeded());
    assertTrue(r.due(now + 301 * s));
    assertTrue(r.failed(now + 301 * s), "a new fallback is logged again");
  }

  @Test
  void aMonitorThatNeverSubscribesIsNotStartedAgainOnEveryRun(@TempDir Path dir)
      throws IOException {
    Path starts = dir.resolve("starts");
    long[] now = {0};
    XtablesMonitor monitor =
        new XtablesMonitor(
            List.of("sh", "-c", "echo started >> " + starts + "; exec sleep 30", "fake"),
            () -> now[0]);
    try {
      assertTrue(monitor.changed(), "not subscribed: the canary reads everything");
      assertEquals(1, Files.readAllLines(starts).size(), "started once");
      long t0 = System.nanoTime();
      for (int i = 0; i < 5; i++) {
        assertTrue(monitor.changed(), "still reads everything");
      }
      assertTrue(System.nanoTime() - t0 < 500_000_000L, "no run waited for a subscription");
      assertEquals(1, Files.readAllLines(starts).size(), "not started again before the back-off");
      now[0] += Retries.FIRST_NANOS;
      assertTrue(monitor.changed());
      assertEquals(2, Files.readAllLines(starts).size(), "started again after it");
    } finally {
      monitor.close();
    }
  }
}
