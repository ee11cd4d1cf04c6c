package de.metaleg.controller;

import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.testing.LogLines;
import org.junit.jupiter.api.Test;

/**
 * The controller's simplelogger.properties: every line carries an ISO-8601 timestamp and the level.
 */
class LogFormatTest {
  @Test
  void linesStartWithAnIsoTimestampAndTheLevel() {
    String line = LogLines.infoLine("de.metaleg.controller.LogFormatTest", "probe");
    assertTrue(line.matches(LogLines.FORMAT), line);
    assertTrue(line.endsWith(" INFO de.metaleg.controller.LogFormatTest - probe"), line);
  }
}
