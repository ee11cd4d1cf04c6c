package de.metaleg.controller.k8s;

import static de.metaleg.controller.k8s.MockCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import de.metaleg.controller.Controller;
import de.metaleg.controller.ControllerConfig;
import de.metaleg.testing.CrudApiServer;
import io.fabric8.kubernetes.api.model.authorization.v1.ResourceRuleBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * With POD_NAMESPACE set the controller takes a Lease before it writes. The mock cannot answer
 * JOSDK's SelfSubjectRulesReview (its RBAC pre-check), so that one request gets a canned answer
 * allowing Leases; everything else is the CRUD mock.
 */
class LeaderElectionMockTest {
  @Test
  void takesTheLeaseThenWritesAndStopsWithoutExiting() throws Exception {
    try (MockCluster cluster = new MockCluster()) {
      CrudApiServer.answerRulesReviews(
          cluster.server,
          List.of(
              new ResourceRuleBuilder()
                  .withApiGroups("coordination.k8s.io")
                  .withResources("leases")
                  .withVerbs("get", "list", "watch", "create", "update", "patch", "delete")
                  .build()));
      cluster.node(1);
      ControllerConfig config =
          ControllerConfig.fromEnv(
              Map.of(
                  "METRICS_BIND_ADDRESS", "0",
                  "HEALTH_PROBE_BIND_ADDRESS", "0",
                  "POD_NAMESPACE", "default",
                  "POD_NAME", "controller-a"));
      AtomicBoolean exited = new AtomicBoolean();
      Controller controller =
          new Controller(
              config,
              cluster.client,
              new SimpleMeterRegistry(),
              PlanWriter.MAX_PLAN_BYTES,
              () -> exited.set(true));
      try {
        controller.start();
        Lease lease =
            await(
                "the Lease",
                () ->
                    cluster
                        .client
                        .leases()
                        .inNamespace("default")
                        .withName(ControllerConfig.LEASE_NAME)
                        .get(),
                l -> l != null);
        assertEquals("controller-a", lease.getSpec().getHolderIdentity());
        await("leading", controller::leading);
        await("node-1's plan", () -> cluster.plan("node-1") != null);
        assertEquals(List.of(), cluster.plan("node-1").getSpec().getEntries());
      } finally {
        controller.close();
      }
      assertFalse(exited.get(), "a shutdown is not a lost election");
    }
  }
}
