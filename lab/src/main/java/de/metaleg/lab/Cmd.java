package de.metaleg.lab;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a short command and captures its combined output. */
public final class Cmd {
  public record Result(List<String> command, int exitCode, String output) {
    public boolean ok() {
      return exitCode == 0;
    }

    public Result orThrow() {
      if (!ok()) {
        throw new IllegalStateException(
            "'" + String.join(" ", command) + "' exited " + exitCode + ": " + output.strip());
      }
      return this;
    }
  }

  private Cmd() {}

  public static Result run(String... command) {
    return run(List.of(command), 30);
  }

  public static Result run(List<String> command, long timeoutSeconds) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getOutputStream().close();
      // Small outputs only: read fully, then wait.
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Result(command, -1, "timed out after " + timeoutSeconds + " s");
      }
      return new Result(command, p.exitValue(), new String(out, StandardCharsets.UTF_8));
    } catch (IOException e) {
      return new Result(command, -1, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(command, -1, "interrupted");
    }
  }

  /** {@code ip netns exec NS command...} */
  public static Result inNs(String ns, String... command) {
    String[] full = new String[command.length + 4];
    full[0] = "ip";
    full[1] = "netns";
    full[2] = "exec";
    full[3] = ns;
    System.arraycopy(command, 0, full, 4, command.length);
    return run(List.of(full), 30);
  }
}
