package de.metaleg.lab;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The named processes of one lab run (API server, controller, agents), each appending its output to
 * {@code <logs>/<name>.log}; used by {@link Lab} and {@link ProgrammingLatencyBenchmark}.
 */
final class LabProcesses {
  private final Path logs;
  private final Map<String, Process> processes = new LinkedHashMap<>();

  LabProcesses(Path logs) {
    this.logs = logs;
  }

  Path log(String name) {
    return logs.resolve(name + ".log");
  }

  synchronized void start(String name, List<String> command, Map<String, String> env) {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log(name).toFile()));
    pb.environment().putAll(env);
    try {
      processes.put(name, pb.start());
    } catch (IOException e) {
      throw new IllegalStateException("cannot start " + name + ": " + command, e);
    }
  }

  /** The running process {@code name}, or null. */
  synchronized Process get(String name) {
    return processes.get(name);
  }

  /** Forgets {@code name} and returns its process (null if none), for the caller to end it. */
  synchronized Process remove(String name) {
    return processes.remove(name);
  }

  /**
   * Fails at once (an Error, so {@link Await} does not keep polling) when a process that was
   * started and not stopped has exited.
   */
  synchronized void assertAlive() {
    for (var e : processes.entrySet()) {
      if (!e.getValue().isAlive()) {
        throw new AssertionError(
            e.getKey()
                + " exited with "
                + e.getValue().exitValue()
                + "; last log lines:\n"
                + Lab.tail(log(e.getKey()), 40));
      }
    }
  }

  /** SIGTERM; SIGKILL after 15 s. */
  void stop(String name) {
    Process p = remove(name);
    if (p == null) {
      return;
    }
    p.destroy();
    try {
      if (!p.waitFor(15, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
    }
  }

  /** Every process, the last started first. */
  void stopAll() {
    List<String> names;
    synchronized (this) {
      names = new ArrayList<>(processes.keySet());
    }
    Collections.reverse(names);
    names.forEach(this::stop);
  }
}
