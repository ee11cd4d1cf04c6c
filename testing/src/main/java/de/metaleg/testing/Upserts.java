package de.metaleg.testing;

import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import java.util.function.Consumer;

/** Informer handlers that treat an add and an update alike: the object's newest version. */
public final class Upserts {
  private Upserts() {}

  /** {@code upsert} for every added or updated version, {@code delete} for a deleted object. */
  public static <T> ResourceEventHandler<T> handler(Consumer<T> upsert, Consumer<T> delete) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        upsert.accept(obj);
      }

      @Override
      public void onUpdate(T old, T obj) {
        upsert.accept(obj);
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        delete.accept(obj);
      }
    };
  }
}
