package de.metaleg.controller.bench;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.crud.Attribute;
import io.fabric8.mockwebserver.crud.AttributeSet;
import java.lang.reflect.Field;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * Puts objects straight into a {@link de.metaleg.testing.CrudApiServer}'s store, as its POST
 * handler would (resourceVersion from the server's counter, uid, creationTimestamp), without a
 * request: the mock scans its whole store on every create, so tens of thousands of creates through
 * the API take minutes. Only before anything watches or lists them (no watch events are sent).
 * Reaches the mock's CRUD dispatcher by reflection: fabric8 7.5.2 does not expose it.
 */
final class MockStore {
  private MockStore() {}

  /** Stores {@code objects}, all of the collection at {@code path} (e.g. /api/v1/nodes). */
  static void store(KubernetesMockServer server, String path, List<? extends HasMetadata> objects)
      throws ReflectiveOperationException {
    KubernetesCrudDispatcher crud =
        (KubernetesCrudDispatcher)
            field(
                field(server, KubernetesMockServer.class, "dispatcher"),
                KubernetesMixedDispatcher.class,
                "kubernetesCrudDispatcher");
    String now = Instant.now().toString();
    for (HasMetadata o : objects) {
      var m = o.getMetadata();
      m.setResourceVersion(Long.toString(crud.requestResourceVersion()));
      if (m.getUid() == null) {
        m.setUid(UUID.randomUUID().toString());
      }
      m.setCreationTimestamp(now);
      m.setGeneration(1L);
      String json = Serialization.asJson(o);
      AttributeSet key = crud.getKey(path).add(new Attribute("name", m.getName()));
      // what the POST handler does after its checks: store, notify watches (none yet)
      crud.processEvent(
          path, key, null, Serialization.unmarshal(json, GenericKubernetesResource.class), json);
    }
  }

  private static Object field(Object target, Class<?> type, String name)
      throws ReflectiveOperationException {
    Field f = type.getDeclaredField(name);
    f.setAccessible(true);
    return f.get(target);
  }
}
