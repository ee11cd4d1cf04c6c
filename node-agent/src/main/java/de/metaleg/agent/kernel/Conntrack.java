package de.metaleg.agent.kernel;

import de.metaleg.agent.render.ConntrackEntry;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.List;

/**
 * The connection-tracking table through {@code conntrack} (conntrack-tools): one listing per family
 * and one batch ({@code conntrack -R}) that deletes many entries in one process.
 */
final class Conntrack {
  private final CommandRunner runner;

  Conntrack(CommandRunner runner) {
    this.runner = runner;
  }

  /** Every entry of both families ({@code conntrack -L -f ipv4}, then {@code -f ipv6}). */
  List<ConntrackEntry> list() {
    List<ConntrackEntry> out = new ArrayList<>();
    for (Family f : Family.values()) {
      List<String> argv = List.of("conntrack", "-L", "-f", f == Family.V4 ? "ipv4" : "ipv6");
      CommandRunner.Result r = runner.run(argv);
      if (!r.ok()) {
        throw DataplaneException.of(argv, r, null, "");
      }
      r.stdout().lines().forEach(l -> ConntrackEntry.parse(f, l).ifPresent(out::add));
    }
    return out;
  }

  /**
   * Runs {@code conntrack -D} lines (see {@code Transition.deleteLines}) in one {@code conntrack
   * -R} batch; returns how many entries the kernel deleted (an entry that expired meanwhile is no
   * error).
   */
  int delete(List<String> lines) {
    if (lines.isEmpty()) {
      return 0;
    }
    StringBuilder batch = new StringBuilder();
    lines.forEach(l -> batch.append(l).append('\n'));
    List<String> argv = List.of("conntrack", "-R", "/dev/stdin");
    CommandRunner.Result r = runner.run(argv, batch.toString());
    if (!r.ok()) {
      throw DataplaneException.of(argv, r, batch.toString(), "conntrack");
    }
    return (int) r.stdout().lines().filter(l -> l.contains("src=")).count();
  }
}
