package de.metaleg.lab;

import java.nio.file.Path;
import java.util.List;

/** One TCP connection from a pod namespace to an echo host, via lab/scripts/probe.py. */
record Probe(String outcome, String seen, long millis, String raw) {
  static Probe run(Path scripts, String podNs, String host, int port, double timeoutSeconds) {
    Cmd.Result r =
        Cmd.run(
            List.of(
                "ip",
                "netns",
                "exec",
                podNs,
                "python3",
                scripts.resolve("probe.py").toString(),
                host,
                Integer.toString(port),
                "--timeout",
                Double.toString(timeoutSeconds)),
            (long) timeoutSeconds + 10);
    return parse(r.output().strip());
  }

  /** Parses "ok ADDR MS", "refused MS", "unreachable TEXT... MS", "timeout MS", "error ... MS". */
  static Probe parse(String line) {
    String[] f = line.split("\\s+");
    long ms = -1;
    try {
      ms = Long.parseLong(f[f.length - 1]);
    } catch (NumberFormatException e) {
      return new Probe("error", null, -1, line);
    }
    String seen = f[0].equals("ok") && f.length == 3 ? f[1] : null;
    return new Probe(f[0], seen, ms, line);
  }

  boolean ok() {
    return outcome.equals("ok");
  }

  /** Refused or unreachable (a REJECT), as opposed to a timeout (a DROP or a black hole). */
  boolean rejected() {
    return outcome.equals("refused") || outcome.equals("unreachable");
  }

  @Override
  public String toString() {
    return raw;
  }
}
