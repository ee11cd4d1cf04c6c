package de.metaleg.controller.k8s;

import static de.metaleg.controller.k8s.MockCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import de.metaleg.controller.plan.Finding;
import de.metaleg.controller.plan.ServiceKey;
import io.fabric8.kubernetes.api.model.Event;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A repeated story is one Event whose count grows, also across a controller restart. */
class EventRecorderMockTest {
  static final Finding NO_GATEWAY =
      Finding.warning(new ServiceKey("app", "web"), "NoEgressGateway", "no announcer");

  @Test
  void repeatsBumpTheCountOfOneEvent() throws Exception {
    try (MockCluster cluster = new MockCluster()) {
      try (EventRecorder first = new EventRecorder(cluster.client, () -> true)) {
        first.record(NO_GATEWAY);
        first.record(NO_GATEWAY);
        await("count 2", () -> counts(cluster).equals(List.of(2)));
      }
      // a restarted controller knows nothing of the Event: its create conflicts, and it continues
      // the stored count (each wait below is met only by the second recorder's own write)
      try (EventRecorder second = new EventRecorder(cluster.client, () -> true)) {
        second.record(NO_GATEWAY);
        await("count continued from the stored Event", () -> counts(cluster), List.of(3)::equals);
        second.record(NO_GATEWAY);
        await("one Event counting four occurrences", () -> counts(cluster), List.of(4)::equals);
      }
      Event e = cluster.client.v1().events().inNamespace("app").list().getItems().get(0);
      assertEquals("web", e.getInvolvedObject().getName());
      assertEquals("NoEgressGateway", e.getReason());
    }
  }

  static List<Integer> counts(MockCluster cluster) {
    return cluster.client.v1().events().inNamespace("app").list().getItems().stream()
        .map(Event::getCount)
        .toList();
  }
}
