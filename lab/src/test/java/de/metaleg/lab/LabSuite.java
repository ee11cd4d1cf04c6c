package de.metaleg.lab;

import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The start of every lab suite (kept out of {@link Lab}, which the benchmarks' mains load without
 * JUnit on the class path).
 */
final class LabSuite {
  private LabSuite() {}

  /**
   * Starts the lab for one suite ({@code what}, for the messages), or aborts the suite when the
   * machine cannot run it ({@link Lab#missingRequirement}, then {@code extra}); under {@code
   * -Dmetaleg.kernelTests=required} (CI) a missing requirement fails instead.
   */
  static Lab startOrSkip(String what, Optional<String> extra, Map<String, String> agentEnv)
      throws IOException {
    Optional<String> missing = Lab.missingRequirement().or(() -> extra);
    if (missing.isPresent()) {
      if ("required".equals(System.getProperty("metaleg.kernelTests"))) {
        Assertions.fail(what + " required (metaleg.kernelTests=required) but " + missing.get());
      }
      Assumptions.abort("skipping " + what + ": " + missing.get());
    }
    return Lab.start(agentEnv);
  }
}
