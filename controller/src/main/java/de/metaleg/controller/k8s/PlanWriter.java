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

  /** What we last wrote per node, to skip rewrites while the informer cache lags behind. */
  private final Map<String, Written> written = new ConcurrentHashMap<>();

  /** Metadata as the API server returned it for our write (labels, owners, resourceVersion). */
  private record Written(ObjectMeta metadata, EgressPlanSpec spec) {
    String resourceVersion() {
      return metadata.getResourceVersion();
    }
  }

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
    if (cached.isPresent() && upToDate(cached.get(), desired, owner)) {
      return false;
    }
    if (cached.isPresent() && cacheLags(name, cached.get(), desired)) {
      return false; // our own write is not in the cache yet; its event will bring us back here
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
          replace(newest(name, cached.get()), cached.get().getStatus(), desired, owner, changedAt);
    }
    written.put(name, new Written(result.getMetadata(), desired));
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
   * The metadata to replace: that of our last write while the informer has not delivered it yet (a
   * PUT with the cache's older resourceVersion would only fail with 409 and cost a JOSDK retry,
   * e.g. in a failover that rewrites a plan twice within milliseconds), else the cached copy's.
   */
  private ObjectMeta newest(String name, EgressPlan cached) {
    Written w = written.get(name);
    if (w == null) {
      return cached.getMetadata();
    }
    try {
      return Long.parseLong(w.resourceVersion())
              > Long.parseLong(cached.getMetadata().getResourceVersion())
          ? w.metadata()
          : cached.getMetadata();
    } catch (NumberFormatException | NullPointerException e) {
      return cached.getMetadata(); // resourceVersions are opaque in general
    }
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

  /**
   * True when we already wrote {@code desired} and the cached copy is older than that write, i.e.
   * the informer has not delivered it yet. A hand edit made after our write has a newer
   * resourceVersion and is put back.
   */
  private boolean cacheLags(String name, EgressPlan cached, EgressPlanSpec desired) {
    Written w = written.get(name);
    if (w == null || !w.spec().equals(desired)) {
      return false;
    }
    try {
      return Long.parseLong(cached.getMetadata().getResourceVersion())
          < Long.parseLong(w.resourceVersion());
    } catch (NumberFormatException | NullPointerException e) {
      return false; // resourceVersions are opaque in general: write rather than guess
    }
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
