package de.metaleg.agent.kernel;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.render.DataplaneRenderer;
import de.metaleg.agent.render.MarkAllocator;
import de.metaleg.agent.render.NodeFacts;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * The hand-written fake backend for tests: renders each plan like the real dataplanes (marks from
 * {@link MarkAllocator}, starting empty) and records it. Settable from the test: the canary's
 * {@link #drift} (cleared by the next sync, as a full resync repairs it), a {@link #warning}, and
 * what a previous agent process left in the kernel ({@link #previouslyProgrammed}, per Service),
 * which {@link #recoverEntries} answers from for the Services asked about only. {@code deadline}
 * answers {@link #nextDeadline()} from the number of syncs so far.
 */
public class RecordingDataplane implements Dataplane {
  public final List<DesiredPlan> synced = new CopyOnWriteArrayList<>();
  public final List<Boolean> fullFlags = new CopyOnWriteArrayList<>();
  public final List<Set<String>> recoverRequests = new CopyOnWriteArrayList<>();
  public final Map<String, List<Entry>> previouslyProgrammed = new ConcurrentHashMap<>();
  public volatile Optional<String> drift = Optional.empty();
  public volatile Optional<String> warning = Optional.empty();
  private final NodeFacts facts;
  private final Function<Integer, Optional<Instant>> deadline;

  public RecordingDataplane(NodeFacts facts, Function<Integer, Optional<Instant>> deadline) {
    this.facts = facts;
    this.deadline = deadline;
  }

  public RecordingDataplane(NodeFacts facts) {
    this(facts, n -> Optional.empty());
  }

  @Override
  public String firewallBackend() {
    return "iptables-nft";
  }

  @Override
  public String routeBackend() {
    return "netlink";
  }

  @Override
  public SyncResult sync(DesiredPlan plan, boolean full) {
    synced.add(plan);
    fullFlags.add(full);
    drift = Optional.empty();
    Map<String, Integer> allocation =
        MarkAllocator.allocate(
            Map.of(), MarkAllocator.gatewayNodes(plan), facts.marks().maxIndex());
    return new SyncResult(
        DataplaneRenderer.render(plan, facts, allocation, Set.of()), full, List.of(), Map.of());
  }

  /** The last plan synced. */
  public DesiredPlan last() {
    return synced.get(synced.size() - 1);
  }

  @Override
  public Map<String, List<Entry>> recoverEntries(Set<String> services, DesiredPlan plan) {
    recoverRequests.add(Set.copyOf(services));
    Map<String, List<Entry>> out = new TreeMap<>();
    services.forEach(
        s -> Optional.ofNullable(previouslyProgrammed.get(s)).ifPresent(e -> out.put(s, e)));
    return out;
  }

  @Override
  public Optional<Instant> nextDeadline() {
    return deadline.apply(synced.size());
  }

  @Override
  public Optional<String> drift() {
    return drift;
  }

  @Override
  public Optional<String> warning() {
    return warning;
  }
}
