package de.metaleg.controller.k8s;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * When the changes not yet written into each node's plan happened, for the network-programming SLI
 * (kube-proxy's {@code network_programming_duration_seconds}, measured the same way).
 *
 * <p>A change's time: an EndpointSlice's {@code endpoints.kubernetes.io/last-change-trigger-time}
 * (when the pod change that caused it happened); otherwise the newest {@code managedFields} time
 * (the object's last write); otherwise, for an added object, its creationTimestamp; otherwise
 * (deletes, servers that record neither) the time the event arrived. Like kube-proxy, changes from
 * before this process started are not tracked: the initial list is not a change.
 *
 * <p>Per node the earliest pending time is kept. A reconcile {@link #take}s it before planning (so
 * the plan it computes contains every change taken), the plan write carries it as an annotation,
 * and a failed write {@link #putBack}s it.
 */
public final class TriggerTimes {
  public static final String SLICE_TRIGGER_TIME =
      "endpoints.kubernetes.io/last-change-trigger-time";

  private final Clock clock;
  private final Instant startedAt;
  private final Map<String, Instant> pending = new ConcurrentHashMap<>();

  public TriggerTimes(Clock clock) {
    this.clock = clock;
    this.startedAt = clock.instant();
  }

  /** Records a change at {@code at} for these nodes (earliest pending per node wins). */
  public void record(Collection<String> nodes, Optional<Instant> at) {
    if (at.isEmpty() || at.get().isBefore(startedAt)) {
      return;
    }
    for (String n : nodes) {
      pending.merge(n, at.get(), (a, b) -> a.isBefore(b) ? a : b);
    }
  }

  /** The earliest pending change of the node, now removed. */
  public Optional<Instant> take(String node) {
    return Optional.ofNullable(pending.remove(node));
  }

  /** Returns a taken time whose write failed. */
  public void putBack(String node, Optional<Instant> at) {
    at.ifPresent(t -> pending.merge(node, t, (a, b) -> a.isBefore(b) ? a : b));
  }

  /** When the change to {@code obj} this event reports happened (see the class comment). */
  public Optional<Instant> changeTime(HasMetadata obj, boolean added) {
    Instant now = clock.instant();
    ObjectMeta m = obj == null ? null : obj.getMetadata();
    if (m == null) {
      return Optional.of(now);
    }
    Optional<Instant> t =
        parse(m.getAnnotations() == null ? null : m.getAnnotations().get(SLICE_TRIGGER_TIME))
            .or(() -> newestManagedFieldsTime(m))
            .or(() -> added ? parse(m.getCreationTimestamp()) : Optional.empty());
    // a clock ahead of ours must not give negative latencies
    return Optional.of(t.filter(x -> x.isBefore(now)).orElse(now));
  }

  /** The time of a deletion: when the event arrived. */
  public Optional<Instant> deleteTime() {
    return Optional.of(clock.instant());
  }

  private static Optional<Instant> newestManagedFieldsTime(ObjectMeta m) {
    if (m.getManagedFields() == null) {
      return Optional.empty();
    }
    return m.getManagedFields().stream()
        .map(ManagedFieldsEntry::getTime)
        .filter(Objects::nonNull)
        .map(TriggerTimes::parse)
        .flatMap(Optional::stream)
        .max(Instant::compareTo);
  }

  static Optional<Instant> parse(String rfc3339) {
    if (rfc3339 == null || rfc3339.isBlank()) {
      return Optional.empty();
    }
    try {
      return Optional.of(java.time.OffsetDateTime.parse(rfc3339).toInstant());
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }
}
