package de.metaleg.agent.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Uses only sh, cat and sleep; no root needed. */
class ProcessRunnerTest {
  @Test
  void passesStdinAndCollectsBothStreams() {
    String big = "x".repeat(1_000_000) + "\n";
    CommandRunner.Result r =
        ProcessRunner.host()
            .run(
                List.of("sh", "-c", "cat; head -c 200000 /dev/zero | tr '\\0' e >&2; exit 3"), big);
    assertEquals(3, r.exit());
    assertEquals(big, r.stdout());
    assertEquals(200_000, r.stderr().length(), "a chatty stderr does not deadlock the writer");
  }

  @Test
  void aHungToolTimesOut() {
    long t0 = System.nanoTime();
    CommandRunner.Result r =
        new ProcessRunner(List.of(), Duration.ofMillis(300)).run(List.of("sleep", "30"));
    assertEquals(124, r.exit());
    assertTrue(r.stderr().contains("timed out"), r.stderr());
    assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(5).toNanos());
  }

  @Test
  void aMissingToolIsAResultNotAnException() {
    CommandRunner.Result r = ProcessRunner.host().run(List.of("no-such-tool-metaleg"));
    assertEquals(127, r.exit());
  }
}
