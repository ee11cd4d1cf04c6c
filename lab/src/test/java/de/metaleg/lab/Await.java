package de.metaleg.lab;

import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;

/** Polls a condition until it holds; never a fixed sleep as an assertion. */
final class Await {
  private Await() {}

  /**
   * Polls {@code mismatch} (empty = condition holds, otherwise a description of what is still
   * wrong) until it holds or {@code timeout} passes; then fails with the last description.
   *
   * @return how long it took
   */
  static Duration until(String what, Duration timeout, Supplier<Optional<String>> mismatch) {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    String last = "never evaluated";
    while (true) {
      try {
        Optional<String> m = mismatch.get();
        if (m.isEmpty()) {
          return Duration.ofNanos(System.nanoTime() - start);
        }
        last = m.get();
      } catch (RuntimeException e) {
        last = e.toString();
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "timed out after " + timeout.toSeconds() + " s waiting for " + what + ": " + last);
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what);
      }
    }
  }
}
