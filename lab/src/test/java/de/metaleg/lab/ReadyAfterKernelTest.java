package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;

import de.metaleg.lab.ReadyAfterKernel.Change;
import de.metaleg.lab.ReadyAfterKernel.Sample;
import de.metaleg.lab.ReadyAfterKernel.Timing;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link ReadyAfterKernel#timing}: times in plain nanos, the previous check at 100. */
class ReadyAfterKernelTest {
  static final long SINCE = 100;

  @Test
  void timedFromTheKernelChangeThatPrecededReady() {
    List<Sample> samples =
        List.of(new Sample(10, 1, true), new Sample(200, 2, false), new Sample(900, 2, true));
    List<Change> changes = List.of(new Change(250, 300), new Change(950, 1000));
    assertEquals(
        Optional.of(new Timing(2, 900, 250, 300, "kernel change")),
        ReadyAfterKernel.timing(samples, changes, SINCE),
        "the change seen after Ready (notBefore 950) cannot be the one Ready reports");
  }

  @Test
  void timedFromTheGenerationWhenTheKernelDidNotChangeAfterIt() {
    List<Sample> samples =
        List.of(new Sample(10, 1, true), new Sample(200, 2, false), new Sample(400, 2, true));
    List<Change> changes = List.of(new Change(40, 50));
    assertEquals(
        Optional.of(new Timing(2, 400, 200, 200, "generation's arrival")),
        ReadyAfterKernel.timing(samples, changes, SINCE));
  }

  @Test
  void readyFromTheStartOfTheTrailingRunOfReadySamples() {
    List<Sample> samples =
        List.of(
            new Sample(200, 2, false),
            new Sample(300, 2, true),
            new Sample(400, 2, false), // e.g. a degraded sync in between
            new Sample(600, 2, true),
            new Sample(700, 2, true)); // a heartbeat write
    assertEquals(
        Optional.of(new Timing(2, 600, 200, 200, "generation's arrival")),
        ReadyAfterKernel.timing(samples, List.of(), SINCE));
  }

  @Test
  void notTimedWhenReadySinceBeforeTheStepOrNotReady() {
    List<Change> kernel = List.of(new Change(150, 160));
    assertEquals(
        Optional.empty(),
        ReadyAfterKernel.timing(
            List.of(new Sample(10, 1, true), new Sample(120, 1, true)), kernel, SINCE));
    assertEquals(
        Optional.empty(),
        ReadyAfterKernel.timing(List.of(new Sample(200, 2, false)), kernel, SINCE));
    assertEquals(Optional.empty(), ReadyAfterKernel.timing(List.of(), kernel, SINCE));
  }
}
