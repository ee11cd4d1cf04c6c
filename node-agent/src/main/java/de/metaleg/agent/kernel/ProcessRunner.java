package de.metaleg.agent.kernel;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs commands as processes, each prefixed with {@code prefix} (empty on a node; {@code ip netns
 * exec NS} in tests, so the same code programs a throwaway namespace).
 */
public final class ProcessRunner implements CommandRunner {
  /** No kernel tool should take this long; a hung one must not stall the agent forever. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private final List<String> prefix;
  private final Duration timeout;

  public ProcessRunner(List<String> prefix) {
    this(prefix, DEFAULT_TIMEOUT);
  }

  public ProcessRunner(List<String> prefix, Duration timeout) {
    this.prefix = List.copyOf(prefix);
    this.timeout = timeout;
  }

  public static ProcessRunner host() {
    return new ProcessRunner(List.of());
  }

  public static ProcessRunner inNamespace(String netns) {
    return new ProcessRunner(List.of("ip", "netns", "exec", netns));
  }

  public List<String> prefix() {
    return prefix;
  }

  @Override
  public Result run(List<String> argv, String stdin) {
    List<String> cmd = new ArrayList<>(prefix);
    cmd.addAll(argv);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    if (stdin == null) {
      pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    }
    try {
      Process p = pb.start();
      // Own threads, not a shared pool: a pool with one worker could queue a reader behind a
      // blocked stdin writer and deadlock on a chatty process.
      String[] out = new String[1];
      String[] err = new String[1];
      Thread outReader = daemon("metaleg-stdout", () -> out[0] = drain(p.getInputStream()));
      Thread errReader = daemon("metaleg-stderr", () -> err[0] = drain(p.getErrorStream()));
      if (stdin != null) {
        daemon(
            "metaleg-stdin",
            () -> {
              try (OutputStream in = p.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
              } catch (IOException e) {
                // the process exited early; its exit status and stderr tell why
              }
            });
      }
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        return new Result(
            124,
            "",
            "`" + String.join(" ", cmd) + "` timed out after " + timeout.toSeconds() + " s");
      }
      outReader.join();
      errReader.join();
      return new Result(
          p.exitValue(), out[0] == null ? "" : out[0], err[0] == null ? "" : err[0], p.pid());
    } catch (IOException e) {
      return new Result(127, "", "cannot run " + String.join(" ", cmd) + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(130, "", "interrupted: " + String.join(" ", cmd));
    }
  }

  private static Thread daemon(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static String drain(InputStream s) {
    try (s) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      s.transferTo(b);
      return b.toString(StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
