package de.metaleg.lab;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A pooled TCP connection from a pod to the external host's flow port that stays idle between uses
 * (lab/scripts/pooled.py): what a database pool or an SMTP relay keeps open across a failover.
 */
final class Pooled implements AutoCloseable {
  private final Process process;
  private final BufferedReader out;
  private final Writer in;

  /** The local port and the source address the server saw ({@code connected PORT SRC}). */
  final String connected;

  private Pooled(List<String> command) throws IOException {
    process = new ProcessBuilder(command).redirectErrorStream(true).start();
    out =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    connected = line();
  }

  /** Opens the connection from {@code pod} to {@code host}; {@link #connected} says how it went. */
  static Pooled open(LabPlan plan, String pod, String host) throws IOException {
    return new Pooled(command(plan, pod, host, "--sport", "0"));
  }

  /**
   * One short connection from {@code pod} to {@code host}, from source port {@code sport}: its
   * {@code connected ...} line and the answer line ({@code ans SRC} or {@code broken REASON}).
   */
  static String once(LabPlan plan, String pod, String host, int sport) throws IOException {
    try (Pooled p =
        new Pooled(command(plan, pod, host, "--sport", Integer.toString(sport), "--once"))) {
      return p.connected + "; " + p.line();
    }
  }

  private static List<String> command(LabPlan plan, String pod, String host, String... options) {
    List<String> cmd =
        new java.util.ArrayList<>(
            Lab.inPod(plan, pod, "pooled.py", host, Integer.toString(plan.flowPort())));
    cmd.addAll(List.of(options));
    return cmd;
  }

  /** The connection's local port, or -1 when it did not connect. */
  int localPort() {
    String[] f = connected.split(" ");
    return f[0].equals("connected") ? Integer.parseInt(f[1]) : -1;
  }

  /** Uses the connection once: {@code ans SRC} or {@code broken REASON}. */
  String use() throws IOException {
    in.write("use\n");
    in.flush();
    return line();
  }

  /** The next line the script prints, or {@code timeout} after 15 s. */
  private String line() throws IOException {
    CompletableFuture<String> next =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                String l = out.readLine();
                return l == null ? "eof" : l;
              } catch (IOException e) {
                return "error " + e;
              }
            });
    try {
      return next.get(15, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      return "timeout";
    } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
      throw new IOException(e);
    }
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
