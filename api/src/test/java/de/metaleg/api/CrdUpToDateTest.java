package de.metaleg.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The CRD committed under config/crd/ must be exactly what the generator produced in this build.
 */
class CrdUpToDateTest {
  static final String FILE = "egressplans.metaleg.de-v1.yml";
  static final Path GENERATED = Path.of("target/classes/META-INF/fabric8", FILE);
  static final Path COMMITTED = Path.of("../config/crd", FILE);

  @Test
  void committedCrdIsTheGeneratorsOutput() throws Exception {
    assertTrue(Files.exists(GENERATED), "generator output missing: " + GENERATED.toAbsolutePath());
    assertEquals(
        Files.readString(GENERATED),
        Files.readString(COMMITTED),
        "config/crd/"
            + FILE
            + " is stale; refresh it with: mvn -pl api process-classes && cp api/"
            + GENERATED
            + " config/crd/");
  }
}
