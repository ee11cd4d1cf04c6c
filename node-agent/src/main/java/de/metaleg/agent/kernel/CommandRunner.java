package de.metaleg.agent.kernel;

import java.util.List;

/**
 * Runs one command with optional standard input. Implementations never throw for a non-zero exit
 * status; callers decide what a failure means.
 */
public interface CommandRunner {
  record Result(int exit, String stdout, String stderr) {
    public boolean ok() {
      return exit == 0;
    }
  }

  Result run(List<String> argv, String stdin);

  default Result run(List<String> argv) {
    return run(argv, null);
  }
}
