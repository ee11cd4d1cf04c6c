package de.metaleg.controller.k8s;

import de.metaleg.common.Threads;
import de.metaleg.controller.plan.Finding;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes core/v1 Events off the informer threads. The Event name is derived from the object, the
 * reason and the message, so a repeat of the same story bumps {@code count} on one Event instead of
 * creating another (also across controller restarts). Only the leader writes.
 */
public final class EventRecorder implements AutoCloseable {
  static final String COMPONENT = "metaleg-controller";
  private static final Logger LOG = LoggerFactory.getLogger(EventRecorder.class);

  private final KubernetesClient client;
  private final BooleanSupplier leading;
  private final ExecutorService executor =
      Executors.newSingleThreadExecutor(Threads.daemon("metaleg-events"));

  /** Events written by this process and their count; bounded, oldest forgotten first. */
  private final Map<String, Integer> counts =
      Collections.synchronizedMap(
          new LinkedHashMap<>(256, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
              return size() > 4096;
            }
          });

  public EventRecorder(KubernetesClient client, BooleanSupplier leading) {
    this.client = client;
    this.leading = leading;
  }

  /** An Event on the Service the finding is about. */
  public void record(Finding f) {
    ObjectReference ref =
        new ObjectReferenceBuilder()
            .withApiVersion("v1")
            .withKind("Service")
            .withNamespace(f.service().namespace())
            .withName(f.service().name())
            .build();
    emit(ref, f.service().namespace(), f.severity().name(), f.reason(), f.message());
  }

  /** An Event on a cluster-scoped object (EgressPlan, Node); it lives in namespace default. */
  public void recordClusterScoped(
      String apiVersion, String kind, String name, String type, String reason, String message) {
    ObjectReference ref =
        new ObjectReferenceBuilder()
            .withApiVersion(apiVersion)
            .withKind(kind)
            .withName(name)
            .build();
    emit(ref, "default", type, reason, message);
  }

  private void emit(ObjectReference ref, String namespace, String type, String reason, String msg) {
    if (!leading.getAsBoolean()) {
      return;
    }
    LOG.info("{} {} {}/{}: {}", type, reason, ref.getKind(), ref.getName(), msg);
    executor.execute(() -> write(ref, namespace, type, reason, msg));
  }

  private void write(
      ObjectReference ref, String namespace, String type, String reason, String msg) {
    String name = ref.getName() + "." + hash(ref.getKind() + "/" + type + "/" + reason + "/" + msg);
    String now = Instant.now().toString();
    int count = counts.merge(namespace + "/" + name, 1, Integer::sum);
    try {
      // RBAC grants create and patch only (as for kubelet's recorder): no get, no update.
      if (count > 1 && bump(namespace, name, count, now)) {
        return;
      }
      Event e =
          new EventBuilder()
              .withNewMetadata()
              .withName(name)
              .withNamespace(namespace)
              .endMetadata()
              .withInvolvedObject(ref)
              .withType(type)
              .withReason(reason)
              .withMessage(msg)
              .withCount(count)
              .withFirstTimestamp(now)
              .withLastTimestamp(now)
              .withNewSource()
              .withComponent(COMPONENT)
              .endSource()
              .withReportingComponent(COMPONENT)
              .build();
      try {
        client.v1().events().inNamespace(namespace).resource(e).create();
      } catch (KubernetesClientException conflict) {
        if (conflict.getCode() != 409 || !continueStored(namespace, name, now)) {
          throw conflict;
        }
      }
    } catch (KubernetesClientException e) {
      LOG.warn("could not write Event {}/{} ({}): {}", namespace, name, reason, e.getMessage());
    }
  }

  /**
   * The Event was written before this process started (a restarted controller): continue its stored
   * count. RBAC has no get, so the count is read from the answer to a patch that touches only
   * lastTimestamp; false when the Event is gone (expired).
   */
  private boolean continueStored(String namespace, String name, String now) {
    Event stored = patch(namespace, name, "{\"lastTimestamp\":\"" + now + "\"}");
    if (stored == null) {
      return false;
    }
    int count = (stored.getCount() == null ? 1 : stored.getCount()) + 1;
    counts.put(namespace + "/" + name, count);
    return bump(namespace, name, count, now);
  }

  /** Merge-patches count and lastTimestamp; false when the Event is gone (expired). */
  private boolean bump(String namespace, String name, int count, String now) {
    return patch(namespace, name, "{\"count\":" + count + ",\"lastTimestamp\":\"" + now + "\"}")
        != null;
  }

  /** A JSON merge patch of the Event; its new state, or null when it is gone (404). */
  private Event patch(String namespace, String name, String mergePatch) {
    try {
      return client
          .v1()
          .events()
          .inNamespace(namespace)
          .withName(name)
          .patch(PatchContext.of(PatchType.JSON_MERGE), mergePatch);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        return null;
      }
      throw e;
    }
  }

  private static String hash(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    executor.shutdown();
  }
}
