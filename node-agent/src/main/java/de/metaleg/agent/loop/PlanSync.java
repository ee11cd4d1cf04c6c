package de.metaleg.agent.loop;

import de.metaleg.agent.kernel.Dataplane;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.model.Entry;
import de.metaleg.agent.plan.Conversion;
import de.metaleg.agent.plan.PlanConverter;
import de.metaleg.agent.plan.Validation;
import de.metaleg.agent.render.DesiredState;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One sync of this node's plan, as a checklist: validate the entries, recover the last good state
 * of invalid entries from the kernel (after a restart), keep the last good state of invalid
 * entries, program the kernel. Carries the last good entries from one sync to the next; worker
 * thread only.
 */
final class PlanSync {
  private static final Logger LOG = LoggerFactory.getLogger(PlanSync.class);

  /**
   * What one sync did: the dataplane's result (empty when it failed, then {@code failure} says
   * why), the time the dataplane took, and all problems to report (the plan's and the programmed
   * state's).
   */
  record Outcome(
      Optional<Dataplane.SyncResult> result,
      Optional<String> failure,
      Duration took,
      List<String> problems) {}

  private final Dataplane dataplane;
  private Map<String, List<Entry>> lastGood = Map.of();
  private final Set<String> recoveryTried = new HashSet<>();
  private Optional<DesiredState> programmed = Optional.empty();

  PlanSync(Dataplane dataplane) {
    this.dataplane = dataplane;
  }

  /** The state the kernel was last programmed with by this process, if any. */
  Optional<DesiredState> programmed() {
    return programmed;
  }

  Outcome run(EgressPlanSpec spec, boolean full) {
    Validation valid = PlanConverter.validate(spec);
    recoverAfterRestart(valid);
    Conversion conversion = PlanConverter.keepLastGood(valid, lastGood);
    List<String> problems = new ArrayList<>(conversion.problems());
    long t0 = System.nanoTime();
    try {
      Dataplane.SyncResult result = dataplane.sync(conversion.plan(), full);
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      lastGood = conversion.lastGoodByService();
      programmed = Optional.of(result.state());
      problems.addAll(result.state().problems());
      return new Outcome(Optional.of(result), Optional.empty(), took, problems);
    } catch (RuntimeException e) {
      programmed.ifPresent(p -> problems.addAll(p.problems()));
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      return new Outcome(Optional.empty(), Optional.of(e.getMessage()), took, problems);
    }
  }

  /**
   * After a restart this process has no last good state: an invalid entry keeps what the previous
   * process programmed for it, read back from the kernel once per Service.
   */
  private void recoverAfterRestart(Validation valid) {
    Set<String> services = new HashSet<>(valid.withoutLastGood(lastGood));
    services.removeAll(recoveryTried);
    if (services.isEmpty()) {
      return;
    }
    recoveryTried.addAll(services);
    // the entries known so far name the gateway nodes behind the kernel's gateway IPs
    List<Entry> known = new ArrayList<>(valid.good());
    valid.badServices().forEach(s -> known.addAll(lastGood.getOrDefault(s, List.of())));
    try {
      Map<String, List<Entry>> recovered =
          dataplane.recoverEntries(services, new DesiredPlan(known));
      if (!recovered.isEmpty()) {
        Map<String, List<Entry>> merged = new HashMap<>(lastGood);
        merged.putAll(recovered);
        lastGood = Map.copyOf(merged);
      }
    } catch (RuntimeException e) {
      LOG.warn("cannot recover the programmed state of {}: {}", services, e.getMessage());
    }
  }
}
