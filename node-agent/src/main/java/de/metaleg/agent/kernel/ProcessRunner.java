package de.metaleg.agent.kernel;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs commands as processes, each prefixed with {@code prefix} (empty on a node; {@code ip netns
 * exec NS} in tests, so the same code programs a throwaway namespace).
 */
public final class ProcessRunner implements CommandRunner {
  private final List<String> prefix;

  public ProcessRunner(List<String> prefix) {
    this.prefix = List.copyOf(prefix);
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
      // Own threads, not a shared pool: a pool with one worker could queue the stderr reader
      // behind a blocked stdin writer and deadlock on a chatty process.
      String[] err = new String[1];
      Thread errReader = new Thread(() -> err[0] = drain(p.getErrorStream()), "metaleg-stderr");
      errReader.setDaemon(true);
      errReader.start();
      Thread writer = null;
      if (stdin != null) {
        writer =
            new Thread(
                () -> {
                  try (OutputStream in = p.getOutputStream()) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                  } catch (IOException e) {
                    // the process exited early; its exit status and stderr tell why
                  }
                },
                "metaleg-stdin");
        writer.setDaemon(true);
        writer.start();
      }
      String out = drain(p.getInputStream());
      int exit = p.waitFor();
      errReader.join();
      if (writer != null) {
        writer.join();
      }
      return new Result(exit, out, err[0] == null ? "" : err[0]);
    } catch (IOException e) {
      return new Result(127, "", "cannot run " + String.join(" ", cmd) + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(130, "", "interrupted: " + String.join(" ", cmd));
    }
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
