package de.metaleg.testing;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.slf4j.LoggerFactory;

/** What one log statement prints with the logging configuration on the classpath. */
public final class LogLines {
  /**
   * An ISO-8601 timestamp with milliseconds and UTC offset, the thread, the level, the logger:
   * {@code 2026-12-01T20:31:07.512Z [main] INFO some.Logger - message}.
   */
  public static final String FORMAT =
      "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}(Z|[+-]\\d{2}:\\d{2}) \\[[^\\]]+\\]"
          + " (TRACE|DEBUG|INFO|WARN|ERROR) \\S+ - .*";

  private LogLines() {}

  /** The line slf4j-simple writes for one INFO statement (it writes to System.err). */
  public static String infoLine(String logger, String message) {
    PrintStream err = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (PrintStream capture = new PrintStream(out, true, StandardCharsets.UTF_8)) {
      System.setErr(capture);
      LoggerFactory.getLogger(logger).info(message);
    } finally {
      System.setErr(err);
    }
    return out.toString(StandardCharsets.UTF_8).strip();
  }
}
