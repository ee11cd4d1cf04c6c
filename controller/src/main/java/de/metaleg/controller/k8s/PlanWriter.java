package de.metaleg.controller.k8s;

import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates, replaces (update with optimistic locking; never server-side apply) and deletes
 * EgressPlans. Writes only when the stored plan differs from the desired one: spec, the node label
 * or the owner reference.
 */
public final class PlanWriter {
  /** Above this the plan gets a Warning Event and a metric; etcd rejects objects at 1.5 MiB. */
  public static final int MAX_PLAN_BYTES = 1 << 20;

  public static final String PLAN_TOO_LARGE = "EgressPlanTooLarge";
  private static final Logger LOG = LoggerFactory.getLogger(PlanWriter.class);

  private final KubernetesClient client;
  private final ControllerMetrics metrics;
  private final EventRecorder events;
  private final int maxBytes;

  /**
   * Our last write per node as the API server returned it, until the informer delivers it: a
   * temporary cache in front of the informer's (see {@link #freshest}).
   */
  private final Map<String, EgressPlan> written = new ConcurrentHashMap<>();

  public PlanWriter(
      KubernetesClient client, ControllerMetrics metrics, EventRecorder events, int maxBytes) {
    this.client = client;
    this.metrics = metrics;
    this.events = events;
    this.maxBytes = maxBytes;
  }

  /** Brings the node's plan to {@code desired}; {@code cached} is the informer's copy. */
  public void sync(Node node, EgressPlanSpec desired, Optional<EgressPlan> cached) {
    sync(node, desired, cached, Optional.empty());
  }

  /**
   * As above; a write carries {@code changedAt} (the earliest change it contains, see {@link
   * TriggerTimes}) as annotation {@link EgressPlan#LAST_CHANGE_TRIGGER_TIME}, or none. The
   * annotation alone never causes a write. Returns whether it wrote.
   */
  public boolean sync(
      Node node, EgressPlanSpec desired, Optional<EgressPlan> cached, Optional<Instant> changedAt) {
    String name = node.getMetadata().getName();
    OwnerReference owner = ownerOf(node);
    metrics.planDesired(desired);
    Optional<EgressPlan> stored = cached.map(c -> freshest(name, c));
    if (stored.isPresent() && upToDate(stored.get(), desired, owner)) {
      return false;
    }
    String json = Serialization.asJson(desired);
    int size = json.getBytes(StandardCharsets.UTF_8).length;
    checkSize(name, size);
    EgressPlan result;
    if (cached.isEmpty()) {
      EgressPlan plan = EgressPlan.forNode(name, desired);
      plan.getMetadata().setOwnerReferences(List.of(owner));
      changedAt.ifPresent(
          t ->
              plan.getMetadata()
                  .setAnnotations(
                      new java.util.TreeMap<>(
                          Map.of(EgressPlan.LAST_CHANGE_TRIGGER_TIME, t.toString()))));
      // A 409 (created meanwhile, cache behind) fails this reconcile; JOSDK retries it.
      result = client.resource(plan).create();
      metrics.planWritten("create");
      LOG.info("created EgressPlan {} ({} entries)", name, desired.getEntries().size());
    } else {
      result =
          replace(stored.get().getMetadata(), cached.get().getStatus(), desired, owner, changedAt);
    }
    written.put(name, result);
    changedAt.ifPresent(t -> metrics.planProgrammed(Duration.between(t, Instant.now())));
    return true;
  }

  /**
   * Replaces the plan (PUT) with the cached resourceVersion: a concurrent change makes it fail with
   * 409 and JOSDK retries with a fresh cache. Status rides along unchanged; the API server ignores
   * it on the main resource anyway (status subresource).
   */
  private EgressPlan replace(
      ObjectMeta base,
      EgressPlanStatus status,
      EgressPlanSpec desired,
      OwnerReference owner,
      Optional<Instant> changedAt) {
    ObjectMetaBuilder meta =
        new ObjectMetaBuilder(base)
            .addToLabels(EgressPlan.NODE_LABEL, base.getName())
            .withOwnerReferences(owner);
    // an older write's trigger time must not stay: the agent would measure it again
    meta.removeFromAnnotations(EgressPlan.LAST_CHANGE_TRIGGER_TIME);
    changedAt.ifPresent(
        t -> meta.addToAnnotations(EgressPlan.LAST_CHANGE_TRIGGER_TIME, t.toString()));
    EgressPlan plan = new EgressPlan();
    plan.setMetadata(meta.build());
    plan.setSpec(desired);
    plan.setStatus(status);
    EgressPlan result = client.resource(plan).update();
    metrics.planWritten("update");
    LOG.info(
        "updated EgressPlan {} ({} entries)",
        plan.getMetadata().getName(),
        desired.getEntries().size());
    return result;
  }

  /**
   * The newer of the informer's copy and our last write: a write the informer has not delivered yet
   * is neither repeated nor replaced from the cache's older resourceVersion (that PUT would only
   * fail with 409 and cost a JOSDK retry, e.g. in a failover that rewrites a plan twice within
   * milliseconds). A hand edit made after our write is newer and is compared (and put back).
   *
   * <p>This is JOSDK's {@code TemporaryResourceCache} in small: JOSDK fills that cache for its own
   * {@code InformerEventSource} ({@code handleRecentResourceUpdate}) and compares resourceVersions
   * numerically as here ({@code parseResourceVersionsForEventFilteringAndCaching}). The plans
   * informer is {@link ClusterWatch}'s, not a JOSDK event source, and fabric8's informer store has
   * no such layer, so neither can be used. Only a cached plan is checked: with none, the plan is
   * created (a 409 when the cache lags fails the reconcile, JOSDK retries it), so a plan deleted by
   * someone else is never taken for our write.
   */
  private EgressPlan freshest(String name, EgressPlan cached) {
    EgressPlan ours = written.get(name);
    if (ours == null) {
      return cached;
    }
    try {
      if (Long.parseLong(ours.getMetadata().getResourceVersion())
          > Long.parseLong(cached.getMetadata().getResourceVersion())) {
        return ours;
      }
    } catch (NumberFormatException | NullPointerException e) {
      // resourceVersions are opaque in general: trust the cache (write rather than guess)
    }
    written.remove(name, ours); // the informer caught up
    return cached;
  }

  /** Deletes the plan of a node that no longer exists. */
  public void delete(String name) {
    written.remove(name);
    metrics.nodeGone(name);
    try {
      if (!client.resources(EgressPlan.class).withName(name).delete().isEmpty()) {
        metrics.planWritten("delete");
        LOG.info("deleted EgressPlan {}: its Node is gone", name);
      }
    } catch (KubernetesClientException e) {
      LOG.warn("could not delete EgressPlan {}: {}", name, e.getMessage());
    }
  }

  private static boolean upToDate(EgressPlan plan, EgressPlanSpec desired, OwnerReference owner) {
    Map<String, String> labels = plan.getMetadata().getLabels();
    List<OwnerReference> owners = plan.getMetadata().getOwnerReferences();
    return desired.equals(plan.getSpec())
        && labels != null
        && plan.getMetadata().getName().equals(labels.get(EgressPlan.NODE_LABEL))
        && owners != null
        && owners.stream().anyMatch(o -> Objects.equals(o.getUid(), owner.getUid()));
  }

  /** Metric always; a Warning Event only when the plan crosses the limit (no Event per write). */
  private void checkSize(String name, int size) {
    boolean tooLarge = size > maxBytes;
    boolean wasTooLarge = metrics.oversized(name, tooLarge);
    if (tooLarge && !wasTooLarge) {
      String msg =
          "spec is "
              + size
              + " bytes, over the "
              + maxBytes
              + "-byte limit (etcd rejects objects above 1.5 MiB); fewer labelled Services or"
              + " endpoints per node, or FILTER_ENDPOINTS_FOR_NODE=true, make it smaller";
      LOG.warn("EgressPlan {}: {}", name, msg);
      events.recordClusterScoped(
          EgressPlan.GROUP + "/" + EgressPlan.VERSION,
          "EgressPlan",
          name,
          "Warning",
          PLAN_TOO_LARGE,
          msg);
    }
  }

  static OwnerReference ownerOf(Node node) {
    return new OwnerReferenceBuilder()
        .withApiVersion("v1")
        .withKind("Node")
        .withName(node.getMetadata().getName())
        .withUid(node.getMetadata().getUid())
        .build();
  }
}
