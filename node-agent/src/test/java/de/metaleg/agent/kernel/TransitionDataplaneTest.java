package de.metaleg.agent.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.Role;
import de.metaleg.common.net.Family;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The transition protocol's order against a fake backend and a fake runner: quarantine first, then
 * the conntrack audit, then the quarantine lifted; nothing extra when nothing switches; drains.
 * Addresses: pods 10.244.1.5 (P, on this node) and 10.244.2.7 (Q), LB IP 198.51.100.10.
 */
class TransitionDataplaneTest {
  static final String P = "10.244.1.5";
  static final String Q = "10.244.2.7";
  static final String NULL_BOUND_P =
      "tcp 6 431999 ESTABLISHED src=10.244.1.5 dst=203.0.113.10 sport=40000 dport=8080"
          + " src=203.0.113.10 dst=10.244.1.5 sport=8080 dport=40000 [ASSURED] mark=0 use=1";

  final List<String> log = new ArrayList<>();
  final NodeFacts facts;

  TransitionDataplaneTest() {
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-1"));
    facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
  }

  /** Logs each plan it is asked to program: its entries' roles, quarantine and settling sources. */
  final class FakeBackend extends RecordingDataplane {
    FakeBackend() {
      super(facts);
    }

    @Override
    public SyncResult sync(DesiredPlan plan, boolean full) {
      StringBuilder b = new StringBuilder(full ? "full" : "incremental");
      plan.entries().forEach(e -> b.append(' ').append(e.role()).append(e.sources()));
      b.append(" quarantine").append(plan.quarantine());
      if (!plan.settling().isEmpty()) {
        b.append(" settling").append(new java.util.TreeSet<>(plan.settling()));
      }
      log.add(b.toString());
      return super.sync(plan, full);
    }
  }

  /** Answers conntrack listings with {@code table} (IPv4) and records the commands. */
  CommandRunner runner(String table) {
    return (argv, stdin) -> {
      String cmd = String.join(" ", argv);
      if (cmd.startsWith("ip ")) {
        return new CommandRunner.Result(0, "default via 192.0.2.254 dev eth0\n", "");
      }
      log.add(cmd + (stdin == null ? "" : " <<" + stdin.trim()));
      if (cmd.equals("conntrack -L -f ipv4")) {
        return new CommandRunner.Result(0, table + "\n", "");
      }
      if (cmd.startsWith("conntrack -R")) {
        return new CommandRunner.Result(0, NULL_BOUND_P + "\n", "");
      }
      return new CommandRunner.Result(0, "", "");
    };
  }

  static Entry entry(Role role, String... sources) {
    return new Entry(
        "shop/web",
        Family.V4,
        role,
        "",
        Optional.of("node-2"),
        role == Role.Forward ? Optional.of("192.0.2.2") : Optional.empty(),
        Optional.of("198.51.100.10"),
        List.of(sources));
  }

  static DesiredPlan plan(Entry... entries) {
    return new DesiredPlan(List.of(entries));
  }

  @Test
  void aSwitchingSourceIsQuarantinedUntilItsStaleEntriesAreDeleted() {
    TransitionDataplane dp =
        new TransitionDataplane(
            new FakeBackend(),
            runner(NULL_BOUND_P),
            facts.excludeDestinations(),
            Clock.systemUTC());
    dp.sync(plan(entry(Role.Forward, P)), true);
    log.clear();

    dp.sync(plan(entry(Role.Gateway, P)), false); // this node becomes the gateway
    assertEquals(
        List.of(
            "incremental Gateway[10.244.1.5] quarantine[10.244.1.5] settling[10.244.1.5]",
            "conntrack -L -f ipv4",
            "conntrack -L -f ipv6",
            "conntrack -R /dev/stdin <<-D -f ipv4 -p tcp -s 10.244.1.5 -d 203.0.113.10 --sport 40000"
                + " --dport 8080",
            "incremental Gateway[10.244.1.5] quarantine[] settling[10.244.1.5]"),
        log,
        "late replies to P stay dropped after the quarantine is lifted");
    assertEquals(1, dp.conntrackEntriesDeleted());
  }

  @Test
  void nothingSwitchesNothingExtra() {
    TransitionDataplane dp =
        new TransitionDataplane(
            new FakeBackend(),
            runner(NULL_BOUND_P),
            facts.excludeDestinations(),
            Clock.systemUTC());
    dp.sync(plan(entry(Role.Forward, P)), true);
    log.clear();
    dp.sync(plan(entry(Role.Forward, P)), false);
    assertEquals(List.of("incremental Forward[10.244.1.5] quarantine[]"), log);
  }

  @Test
  void aFullSyncAuditsEvenWithoutASwitch() {
    TransitionDataplane dp =
        new TransitionDataplane(
            new FakeBackend(),
            runner(NULL_BOUND_P),
            facts.excludeDestinations(),
            Clock.systemUTC());
    dp.sync(plan(entry(Role.Gateway, P)), true); // after a restart: P's null-bound flow is stale
    assertEquals("full Gateway[10.244.1.5] quarantine[]", log.get(0));
    assertTrue(log.get(3).startsWith("conntrack -R"), log.toString());
    assertEquals(4, log.size(), "no quarantine to lift: " + log);
  }

  @Test
  void sourcesMovedAwayDrainThenLeave() {
    Instant t0 = Instant.parse("2026-12-01T00:00:00Z");
    Clock[] clock = {Clock.fixed(t0, ZoneOffset.UTC)};
    Clock ticking = ticking(() -> clock[0].instant());
    TransitionDataplane dp =
        new TransitionDataplane(
            new FakeBackend(), runner(""), facts.excludeDestinations(), ticking);
    dp.sync(plan(entry(Role.Gateway, P, Q)), true);
    log.clear();

    dp.sync(plan(entry(Role.Forward, P)), false); // the gateway moved away
    assertEquals(
        "incremental Forward[10.244.1.5] Gateway[10.244.1.5, 10.244.2.7] quarantine[10.244.1.5]"
            + " settling[10.244.1.5]",
        log.get(0),
        "Q stays SNATed (drain) and is no switch; P switches to forwarding and settles");
    assertEquals(Optional.of(t0.plus(TransitionDataplane.DRAIN)), dp.nextDeadline());
    log.clear();

    Instant drained = t0.plus(TransitionDataplane.DRAIN).plus(Duration.ofMillis(1));
    clock[0] = Clock.fixed(drained, ZoneOffset.UTC);
    dp.sync(plan(entry(Role.Forward, P)), false);
    assertEquals(
        "incremental Forward[10.244.1.5] quarantine[10.244.2.7] settling[10.244.1.5, 10.244.2.7]",
        log.get(0),
        "Q leaves and settles too");
    assertEquals(
        Optional.of(t0.plus(TransitionDataplane.SETTLE)), dp.nextDeadline(), "P's settling ends");
    log.clear();

    clock[0] =
        Clock.fixed(t0.plus(TransitionDataplane.SETTLE).plus(Duration.ofMillis(1)), ZoneOffset.UTC);
    dp.sync(plan(entry(Role.Forward, P)), false);
    assertEquals(
        "incremental Forward[10.244.1.5] quarantine[] settling[10.244.2.7]",
        log.get(0),
        "P settled");
    assertEquals(Optional.of(drained.plus(TransitionDataplane.SETTLE)), dp.nextDeadline());
    log.clear();

    clock[0] = Clock.fixed(drained.plus(TransitionDataplane.SETTLE), ZoneOffset.UTC);
    dp.sync(plan(entry(Role.Forward, P)), false);
    assertEquals("incremental Forward[10.244.1.5] quarantine[]", log.get(0), "Q settled");
    assertEquals(Optional.empty(), dp.nextDeadline());
  }

  @Test
  void guardCountersAreReadAtMostOncePerPeriodHoweverOftenTheyAreScraped() {
    Instant t0 = Instant.parse("2026-12-01T00:00:00Z");
    Instant[] now = {t0};
    Clock ticking = ticking(() -> now[0]);
    long[] settling = {-1}; // before the first sync there is no chain to read
    List<Instant> reads = new ArrayList<>();
    RecordingDataplane backend =
        new RecordingDataplane(facts) {
          @Override
          public Map<String, Long> guardCounters() {
            reads.add(now[0]);
            if (settling[0] < 0) {
              throw new DataplaneException("nft list chain inet metaleg forward: no such file");
            }
            return Map.of("settling", settling[0]);
          }

          @Override
          public SyncResult sync(DesiredPlan plan, boolean full) {
            if (full) {
              settling[0] = 0; // the chain is rewritten
            }
            return super.sync(plan, full);
          }
        };
    TransitionDataplane dp =
        new TransitionDataplane(backend, runner(""), facts.excludeDestinations(), ticking);
    Duration period = backend.guardReadPeriod();
    dp.sync(plan(entry(Role.Forward, P)), true);
    assertEquals(1, backend.synced.size());
    assertEquals(List.of(), reads, "no read for a metric nobody asked for yet");
    settling[0] = -1;

    for (int ask = 0; ask < 3; ask++) { // one scrape asks once per guard
      assertEquals(null, dp.guardDrops().get("settling"), "nothing read yet");
    }
    assertEquals(List.of(t0), reads, "a failed read is not retried on every ask");

    settling[0] = 5;
    Instant second = t0.plus(period);
    now[0] = second;
    for (int ask = 0; ask < 3; ask++) {
      assertEquals(5L, dp.guardDrops().get("settling"));
    }
    assertEquals(List.of(t0, second), reads, "read once per period");

    settling[0] = 7;
    now[0] = second.plus(period).minusMillis(1);
    assertEquals(5L, dp.guardDrops().get("settling"), "younger than the period: not read again");
    assertEquals(List.of(t0, second), reads);

    Instant third = second.plus(period);
    now[0] = third;
    assertEquals(7L, dp.guardDrops().get("settling"));
    assertEquals(List.of(t0, second, third), reads);

    settling[0] = -1; // a failed read keeps the last totals
    Instant fourth = third.plus(period);
    now[0] = fourth;
    assertEquals(7L, dp.guardDrops().get("settling"));
    assertEquals(7L, dp.guardDrops().get("settling"));
    assertEquals(List.of(t0, second, third, fourth), reads);

    settling[0] = 9; // 2 more drops, then a full sync resets the counter
    Instant full = fourth.plusSeconds(1);
    now[0] = full;
    dp.sync(plan(entry(Role.Forward, P)), true);
    assertEquals(List.of(t0, second, third, fourth, full), reads, "read before the rewrite");
    settling[0] = 2;
    now[0] = full.plus(period);
    assertEquals(11L, dp.guardDrops().get("settling"), "9 before the rewrite, 2 after it");
  }

  /** A clock that reads {@code now} on every call (tests move time by changing what it returns). */
  static Clock ticking(java.util.function.Supplier<Instant> now) {
    return new Clock() {
      @Override
      public ZoneOffset getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(java.time.ZoneId zone) {
        return this;
      }

      @Override
      public Instant instant() {
        return now.get();
      }
    };
  }
}
