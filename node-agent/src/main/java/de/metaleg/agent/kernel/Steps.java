package de.metaleg.agent.kernel;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** Small helpers both dataplanes use inside one sync. */
final class Steps {
  private Steps() {}

  /** Waits for a parallel kernel step, rethrowing its own exception (e.g. DataplaneException). */
  static <T> T join(CompletableFuture<T> f) {
    try {
      return f.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException re ? re : e;
    }
  }

  /** Records the milliseconds since {@code t[0]} under {@code name} and restarts the clock. */
  static void lap(Map<String, Long> steps, long[] t, String name) {
    long now = System.nanoTime();
    steps.put(name, (now - t[0]) / 1_000_000);
    t[0] = now;
  }
}
