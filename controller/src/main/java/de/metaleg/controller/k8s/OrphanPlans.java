package de.metaleg.controller.k8s;

import java.util.Collection;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes the EgressPlans of nodes that do not exist (the Node was deleted, or a plan was made for
 * a node that never existed). {@link ClusterWatch} only names candidates, in memory, from its
 * informer callbacks and its resync; the deletes run on {@code executor}, outside the watch's lock
 * and off the informer threads. A candidate is checked again when its turn comes, so a Node that
 * came back meanwhile keeps its plan; a name named twice before its turn is deleted once. Only the
 * leader deletes.
 */
final class OrphanPlans {
  private static final Logger LOG = LoggerFactory.getLogger(OrphanPlans.class);

  private final Predicate<String> nodeExists;
  private final Consumer<String> delete;
  private final BooleanSupplier leading;
  private final Executor executor;
  private final Set<String> pending = ConcurrentHashMap.newKeySet();

  OrphanPlans(
      Predicate<String> nodeExists,
      Consumer<String> delete,
      BooleanSupplier leading,
      Executor executor) {
    this.nodeExists = nodeExists;
    this.delete = delete;
    this.leading = leading;
    this.executor = executor;
  }

  /** The plans of these nodes are deleted soon unless the nodes exist by then. */
  void check(Collection<String> nodeNames) {
    for (String name : nodeNames) {
      if (pending.add(name)) {
        executor.execute(() -> deleteIfOrphaned(name));
      }
    }
  }

  private void deleteIfOrphaned(String name) {
    pending.remove(name);
    try {
      if (leading.getAsBoolean() && !nodeExists.test(name)) {
        delete.accept(name);
      }
    } catch (RuntimeException e) {
      LOG.error("deleting the plan of vanished node {} failed; the next resync retries", name, e);
    }
  }
}
