package de.metaleg.controller;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ControllerHealthTest {
  @Test
  void healthyWhileStartingAndWhileAllEventSourcesRun() {
    assertTrue(Controller.healthy(() -> false, () -> false), "starting");
    assertTrue(Controller.healthy(() -> true, () -> true));
    assertFalse(Controller.healthy(() -> true, () -> false), "an informer stopped");
  }

  @Test
  void aCheckThatThrowsIsUnhealthy() {
    assertFalse(
        Controller.healthy(
            () -> true,
            () -> {
              throw new IllegalStateException("event source gone");
            }));
    assertFalse(
        Controller.healthy(
            () -> {
              throw new IllegalStateException("no runtime info");
            },
            () -> true));
  }
}
