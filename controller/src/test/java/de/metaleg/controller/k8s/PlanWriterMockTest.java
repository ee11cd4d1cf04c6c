package de.metaleg.controller.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.controller.plan.PlannerConfig;
import de.metaleg.controller.plan.PlanningState;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** PlanWriter against the CRUD mock: writes while the informer cache still holds an old copy. */
class PlanWriterMockTest {
  MockCluster cluster;
  EventRecorder events;
  PlanWriter writer;
  Node node;

  @BeforeEach
  void start() throws Exception {
    cluster = new MockCluster();
    node = cluster.node(1);
    events = new EventRecorder(cluster.client, () -> true);
    writer =
        new PlanWriter(
            cluster.client,
            new ControllerMetrics(
                new SimpleMeterRegistry(),
                new PlanningState(new PlannerConfig("metallb-system", true))),
            events,
            PlanWriter.MAX_PLAN_BYTES);
  }

  @AfterEach
  void stop() {
    events.close();
    cluster.close();
  }

  static EgressPlanSpec spec(String service) {
    EgressEntry e = new EgressEntry();
    e.setService(service);
    e.setRole("Reject");
    e.setReason("NoAnnouncer");
    e.setSourceIPv4s(List.of("10.0.1.5"));
    return new EgressPlanSpec("node-1", List.of(e));
  }

  @Test
  void aSecondWriteBeforeTheCacheCaughtUpReplacesOurOwnWriteInsteadOfConflicting() {
    writer.sync(node, spec("app/a"), Optional.empty());
    EgressPlan stale = cluster.plan("node-1");
    writer.sync(node, spec("app/b"), Optional.of(stale));
    writer.sync(node, spec("app/c"), Optional.of(stale)); // cache still at the first write

    assertEquals(spec("app/c"), cluster.plan("node-1").getSpec());
  }

  @Test
  void aChangeByAnotherWriterAfterOursStillConflicts() {
    writer.sync(node, spec("app/a"), Optional.empty());
    EgressPlan stale = cluster.plan("node-1");
    writer.sync(node, spec("app/b"), Optional.of(stale));
    EgressPlan edited = cluster.plan("node-1");
    edited.setSpec(spec("app/hand-edit"));
    cluster.client.resource(edited).update();

    assertThrows(
        KubernetesClientException.class,
        () -> writer.sync(node, spec("app/c"), Optional.of(stale)));
    assertEquals(spec("app/hand-edit"), cluster.plan("node-1").getSpec());
  }

  @Test
  void aWriteTheCacheHasNotDeliveredYetIsNotRepeated() {
    writer.sync(node, spec("app/a"), Optional.empty());
    EgressPlan stale = cluster.plan("node-1");
    assertTrue(writer.sync(node, spec("app/b"), Optional.of(stale), Optional.empty()));
    String written = cluster.plan("node-1").getMetadata().getResourceVersion();

    assertFalse(writer.sync(node, spec("app/b"), Optional.of(stale), Optional.empty()));
    assertEquals(written, cluster.plan("node-1").getMetadata().getResourceVersion());
  }

  @Test
  void aHandEditAfterOurWriteIsPutBack() {
    writer.sync(node, spec("app/a"), Optional.empty());
    writer.sync(node, spec("app/b"), Optional.of(cluster.plan("node-1")));
    EgressPlan edited = cluster.plan("node-1");
    edited.setSpec(spec("app/hand-edit"));
    EgressPlan cached = cluster.client.resource(edited).update(); // newer than our write

    assertTrue(writer.sync(node, spec("app/b"), Optional.of(cached), Optional.empty()));
    assertEquals(spec("app/b"), cluster.plan("node-1").getSpec());
  }
}
