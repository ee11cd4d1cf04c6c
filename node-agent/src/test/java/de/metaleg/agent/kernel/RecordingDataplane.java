package de.metaleg.agent.kernel;

import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.render.DataplaneRenderer;
import de.metaleg.agent.render.NodeFacts;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A hand-written fake backend for tests: renders each plan like the real dataplanes (every Forward
 * gateway gets mark index 1) and records it; {@code deadline} answers {@link #nextDeadline()} from
 * the number of syncs so far.
 */
public class RecordingDataplane implements Dataplane {
  public final List<DesiredPlan> synced = new CopyOnWriteArrayList<>();
  public final List<Boolean> fullFlags = new CopyOnWriteArrayList<>();
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
    return "fake";
  }

  @Override
  public String routeBackend() {
    return "fake";
  }

  @Override
  public SyncResult sync(DesiredPlan plan, boolean full) {
    synced.add(plan);
    fullFlags.add(full);
    Map<String, Integer> allocation = new java.util.TreeMap<>();
    plan.entries()
        .forEach(
            e -> e.gatewayIp().ifPresent(ip -> allocation.put(e.gatewayNode().orElseThrow(), 1)));
    return new SyncResult(
        DataplaneRenderer.render(plan, facts, allocation, Set.of()), full, List.of(), Map.of());
  }

  @Override
  public Optional<Instant> nextDeadline() {
    return deadline.apply(synced.size());
  }

  @Override
  public Optional<String> drift() {
    return Optional.empty();
  }
}
