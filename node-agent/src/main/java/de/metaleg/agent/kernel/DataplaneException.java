package de.metaleg.agent.kernel;

import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A kernel transaction failed. The message names the command, quotes the failing payload line (when
 * the tool reported one) and gives the equivalent shell command for that line.
 */
public class DataplaneException extends RuntimeException {
  private static final Pattern LINE =
      Pattern.compile("(?:[Ll]ine:? |Command failed \\S*:|/dev/stdin:)(\\d+)");

  public DataplaneException(String message) {
    super(message);
  }

  /**
   * @param shellPrefix how one payload line is run on its own, e.g. {@code ipset} or {@code ip -4}
   */
  public static DataplaneException of(
      List<String> argv, CommandRunner.Result r, String payload, String shellPrefix) {
    StringBuilder m = new StringBuilder();
    m.append('`')
        .append(String.join(" ", argv))
        .append("` failed (exit ")
        .append(r.exit())
        .append("): ");
    m.append(r.stderr().strip().replace('\n', ' '));
    failingLine(r.stderr(), payload)
        .ifPresent(
            line ->
                m.append("; failing line: `")
                    .append(line.text())
                    .append("`; equivalent command: `")
                    .append(shellPrefix)
                    .append(tablePart(payload, line.number()))
                    .append(line.text())
                    .append('`'));
    return new DataplaneException(m.toString());
  }

  record Line(int number, String text) {}

  static Optional<Line> failingLine(String stderr, String payload) {
    if (payload == null) {
      return Optional.empty();
    }
    Matcher mt = LINE.matcher(stderr);
    if (!mt.find()) {
      return Optional.empty();
    }
    int n = Integer.parseInt(mt.group(1));
    List<String> lines = payload.lines().toList();
    return n >= 1 && n <= lines.size()
        ? Optional.of(new Line(n, lines.get(n - 1)))
        : Optional.empty();
  }

  /** For iptables-restore payloads: " -t TABLE " from the last "*table" line before line n. */
  private static String tablePart(String payload, int n) {
    List<String> lines = payload.lines().toList();
    for (int i = n - 1; i >= 0; i--) {
      if (lines.get(i).startsWith("*")) {
        return " -t " + lines.get(i).substring(1) + " ";
      }
    }
    return " ";
  }
}
