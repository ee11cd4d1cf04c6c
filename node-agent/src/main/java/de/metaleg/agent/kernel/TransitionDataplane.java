package de.metaleg.agent.kernel;

import de.metaleg.agent.model.Cidr;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.ConntrackEntry;
import de.metaleg.agent.render.Transition;
import de.metaleg.agent.render.Transition.Drain;
import de.metaleg.agent.render.Transition.Treatment;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transition protocol around either firewall backend (docs/agent.md, "Transitions"). One sync:
 *
 * <ol>
 *   <li>Gateway sources the plan moved away are kept SNATed for {@link #DRAIN} ({@link
 *       Transition#drains}), for packets that lagging nodes still send here;
 *   <li>the backend programs the plan with every <em>switching</em> source (its treatment changed)
 *       in quarantine: their packets toward non-excluded destinations are dropped;
 *   <li>the conntrack entries whose NAT binding is wrong for the treatment now are deleted in one
 *       batch ({@link Transition#stale}); also on every full sync (start, resync);
 *   <li>the quarantine is lifted (an incremental sync that only shrinks the quarantine set).
 * </ol>
 *
 * Every switching source then stays settling for {@link #SETTLE}: late replies to it are dropped.
 *
 * <p>The guard rules the renderers add (see {@code Guard}) close the remaining windows whatever
 * order the nodes converge in. A dropped packet is retransmitted; a leaked one is not recalled.
 */
public final class TransitionDataplane implements Dataplane {
  private static final Logger LOG = LoggerFactory.getLogger(TransitionDataplane.class);

  /** How long a node keeps SNATing sources that the plan moved away from it. */
  public static final Duration DRAIN = Duration.ofSeconds(10);

  /**
   * How long late replies to a source that switched are dropped ({@code Guard.SETTLING}): a gateway
   * that held the flow's old binding de-SNATs its replies for up to {@link #DRAIN} after its own
   * sync, and the nodes' syncs of one change may lie seconds apart.
   */
  public static final Duration SETTLE = DRAIN.plusSeconds(10);

  private final Dataplane backend;
  private final CommandRunner runner;
  private final Conntrack conntrack;
  private final List<Cidr> exclude;
  private final Clock clock;
  private final AtomicLong deleted = new AtomicLong();
  private DesiredPlan lastPlan = DesiredPlan.empty();
  private Map<String, Treatment> lastTreatments;
  private List<Drain> drains = List.of();
  private Map<String, Instant> settling = Map.of();
  private List<String> uplinks;
  private final de.metaleg.agent.render.GuardCounters guardTotals =
      new de.metaleg.agent.render.GuardCounters();
  private Map<String, Long> lastGuardDrops = Map.of();
  private Instant guardsReadAt; // null before the first read

  public TransitionDataplane(
      Dataplane backend, CommandRunner runner, List<Cidr> exclude, Clock clock) {
    this.backend = backend;
    this.runner = runner;
    this.conntrack = new Conntrack(runner);
    this.exclude = List.copyOf(exclude);
    this.clock = clock;
  }

  @Override
  public String firewallBackend() {
    return backend.firewallBackend();
  }

  @Override
  public String routeBackend() {
    return backend.routeBackend();
  }

  @Override
  public synchronized SyncResult sync(DesiredPlan plan, boolean full) {
    Instant now = clock.instant();
    if (full || uplinks == null) {
      List<String> found = readUplinks();
      full |= uplinks != null && !found.equals(uplinks); // the forward chain changes
      uplinks = found;
    }
    List<Drain> nextDrains = Transition.drains(lastPlan, plan, drains, now, DRAIN);
    DesiredPlan wanted = Transition.withDrains(plan, nextDrains).withUplinks(uplinks);
    Map<String, Treatment> treatments = Transition.treatments(wanted);
    // After a restart the previous treatments are unknown: nothing is quarantined, but the full
    // sync's audit still deletes every entry whose binding is wrong now.
    Set<String> switching =
        lastTreatments == null ? Set.of() : Transition.switching(lastTreatments, treatments);
    Set<String> left = new HashSet<>();
    if (lastTreatments != null) {
      lastTreatments.keySet().stream().filter(ip -> !treatments.containsKey(ip)).forEach(left::add);
    }

    Map<String, Instant> nextSettling = Transition.settling(settling, switching, now, SETTLE);
    wanted = wanted.withSettling(nextSettling.keySet());

    if (full) {
      readGuardsBeforeRewrite(now);
    }
    SyncResult programmed = backend.sync(wanted.withQuarantine(switching), full);
    List<String> warnings = new ArrayList<>(programmed.warnings());
    Map<String, Long> steps = new LinkedHashMap<>(programmed.stepMillis());
    if (full || !switching.isEmpty()) {
      long t0 = System.nanoTime();
      try {
        int n = audit(Transition.treatments(programmed.state()), switching, left);
        if (n > 0 || !switching.isEmpty()) {
          LOG.info(
              "{} sources switched treatment; deleted {} stale conntrack entries",
              switching.size(),
              n);
        }
      } catch (RuntimeException e) {
        warnings.add("stale conntrack entries not deleted: " + e.getMessage());
      }
      steps.put("conntrack", (System.nanoTime() - t0) / 1_000_000);
    }
    SyncResult result = programmed;
    if (!switching.isEmpty()) {
      long t0 = System.nanoTime();
      result = backend.sync(wanted, false); // lifts the quarantine: only that set shrinks
      steps.put("unquarantine", (System.nanoTime() - t0) / 1_000_000);
      warnings.addAll(result.warnings());
    }
    lastPlan = wanted;
    lastTreatments = treatments;
    drains = nextDrains;
    settling = nextSettling;
    return new SyncResult(result.state(), programmed.full(), warnings, steps);
  }

  /** The interfaces of the default routes, both families. */
  private List<String> readUplinks() {
    StringBuilder routes = new StringBuilder();
    for (String flag : List.of("-4", "-6")) {
      CommandRunner.Result r = runner.run(List.of("ip", flag, "-o", "route", "show", "default"));
      if (r.ok()) {
        routes.append(r.stdout()).append('\n');
      }
    }
    List<String> found = Transition.uplinks(routes.toString());
    if (!found.equals(uplinks)) {
      LOG.info("uplinks (default route interfaces) for the transit guard: {}", found);
    }
    return found;
  }

  private int audit(Map<String, Treatment> now, Set<String> switching, Set<String> left) {
    List<ConntrackEntry> all = conntrack.list();
    List<ConntrackEntry> stale = Transition.stale(all, now, switching, left, exclude);
    int n = conntrack.delete(Transition.deleteLines(all, stale));
    deleted.addAndGet(n);
    if (n > 0) {
      LOG.debug("deleted conntrack entries: {}", stale);
    }
    return n;
  }

  /**
   * Packets each guard dropped since start, for the metric; read from the rules at most once per
   * the backend's {@link Dataplane#guardReadPeriod} however often it is scraped (a scrape asks once
   * per guard), also when the read fails (then the last totals stay).
   */
  public Map<String, Long> guardDrops() {
    synchronized (guardTotals) {
      Instant now = clock.instant();
      if (guardsReadAt == null || !now.isBefore(guardsReadAt.plus(backend.guardReadPeriod()))) {
        readGuards(now);
      }
      return lastGuardDrops;
    }
  }

  /**
   * A full sync rewrites the forward chain and resets its counters: once the metric is read at all,
   * the drops since its last read are taken first, so the totals lose none of them.
   */
  private void readGuardsBeforeRewrite(Instant now) {
    synchronized (guardTotals) {
      if (guardsReadAt != null) {
        readGuards(now);
      }
    }
  }

  private void readGuards(Instant now) { // holds guardTotals
    guardsReadAt = now;
    try {
      lastGuardDrops = guardTotals.update(backend.guardCounters());
    } catch (RuntimeException e) {
      LOG.debug("guard counters not read: {}", e.getMessage());
    }
  }

  /** Conntrack entries deleted since start (for the metric). */
  public long conntrackEntriesDeleted() {
    return deleted.get();
  }

  /** When the next drain ends: the agent must sync again then. */
  @Override
  public synchronized Optional<Instant> nextDeadline() {
    return Stream.concat(Transition.nextExpiry(drains).stream(), settling.values().stream())
        .min(Instant::compareTo);
  }

  @Override
  public Map<String, List<Entry>> recoverEntries(Set<String> services, DesiredPlan plan) {
    return backend.recoverEntries(services, plan);
  }

  @Override
  public Map<String, Integer> allocation() {
    return backend.allocation();
  }

  @Override
  public Optional<String> drift() {
    return backend.drift();
  }
}
