package de.metaleg.agent.kernel;

import java.util.List;
import java.util.function.Consumer;

/**
 * When the canary reads nf_tables objects back: after a commit {@link KernelChanges} reports, and,
 * once that read found drift, on every run until a full sync repaired it.
 */
final class ReadBack {
  private final KernelChanges changes;
  private boolean drifted;

  ReadBack(KernelChanges changes) {
    this.changes = changes;
  }

  /** Runs {@code read} (it adds a line to {@code drift} per difference) when a read-back is due. */
  void check(List<String> drift, Consumer<List<String>> read) {
    if (changes.changed() || drifted) {
      int before = drift.size();
      read.accept(drift);
      drifted = drift.size() > before;
    }
  }

  /** A sync succeeded; a full one repaired whatever drift the last read found. */
  void synced(boolean full) {
    drifted &= !full;
  }
}
