package de.metaleg.agent.kernel;

import de.metaleg.agent.render.ConntrackEntry;
import de.metaleg.common.Threads;
import de.metaleg.common.net.Family;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The connection-tracking table through {@code conntrack} (conntrack-tools): one listing per family
 * and one batch ({@code conntrack -R}) that deletes many entries in one process.
 */
final class Conntrack {
  /** Runs the IPv6 listing while the caller runs the IPv4 one; idle threads end after 60 s. */
  private static final ExecutorService LISTINGS =
      Executors.newCachedThreadPool(Threads.daemon("metaleg-conntrack"));

  private final CommandRunner runner;

  Conntrack(CommandRunner runner) {
    this.runner = runner;
  }

  /**
   * Every entry of both families, IPv4 first: {@code conntrack -L -f ipv4} and {@code -f ipv6}, run
   * at the same time. Each is a process start, and the two of them were the largest share of a new
   * endpoint's programming latency (docs/benchmarks.md, "New endpoint: MetalEG's share").
   */
  List<ConntrackEntry> list() {
    CompletableFuture<List<ConntrackEntry>> v6 =
        CompletableFuture.supplyAsync(() -> list(Family.V6), LISTINGS);
    List<ConntrackEntry> out = new ArrayList<>(list(Family.V4));
    try {
      out.addAll(v6.join());
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r; // the listing's own DataplaneException
      }
      throw e;
    }
    return out;
  }

  private List<ConntrackEntry> list(Family f) {
    List<String> argv = List.of("conntrack", "-L", "-f", f == Family.V4 ? "ipv4" : "ipv6");
    CommandRunner.Result r = runner.run(argv);
    if (!r.ok()) {
      throw DataplaneException.of(argv, r, null, "");
    }
    List<ConntrackEntry> out = new ArrayList<>();
    r.stdout().lines().forEach(l -> ConntrackEntry.parse(f, l).ifPresent(out::add));
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
