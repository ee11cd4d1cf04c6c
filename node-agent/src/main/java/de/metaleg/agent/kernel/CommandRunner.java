package de.metaleg.agent.kernel;

import java.util.List;

/**
 * Runs one command with optional standard input. Implementations never throw for a non-zero exit
 * status; callers decide what a failure means.
 */
public interface CommandRunner {
  /** {@code pid} is the process's id when it ran as a process (0 otherwise). */
  record Result(int exit, String stdout, String stderr, long pid) {
    public Result(int exit, String stdout, String stderr) {
      this(exit, stdout, stderr, 0);
    }

    public boolean ok() {
      return exit == 0;
    }
  }

  Result run(List<String> argv, String stdin);

  default Result run(List<String> argv) {
    return run(argv, null);
  }
}
