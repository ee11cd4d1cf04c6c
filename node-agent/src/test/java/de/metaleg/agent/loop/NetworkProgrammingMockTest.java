package de.metaleg.agent.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.AgentMain;
import de.metaleg.agent.KubeStatusSink;
import de.metaleg.agent.kernel.RecordingDataplane;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.testing.CrudApiServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The agent's half of the network-programming SLI, with the fake dataplane of AgentLoopMockTest:
 * {@code metaleg_network_programming_duration_seconds} observes the plan's {@code
 * metaleg.de/last-change-trigger-time} once per trigger time, when the kernel is programmed, and
 * never times from before the agent started. Pods 10.244.1.x, gateway 192.0.2.2.
 */
class NetworkProgrammingMockTest {
  private static final String METRIC = "metaleg_network_programming_duration_seconds";
  private KubernetesMockServer server;
  private KubernetesClient client;
  private RecordingDataplane dataplane;
  private AgentMetrics metrics;
  private AgentLoop loop;
  private SharedIndexInformer<EgressPlan> informer;
  private Instant agentStarted;

  @BeforeEach
  void setUp() throws Exception {
    server = CrudApiServer.start();
    client = server.createClient();
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    dataplane =
        new RecordingDataplane(new NodeFacts(config.markSpace(), config.excludeDestinations()));
    metrics = new AgentMetrics();
    agentStarted = Instant.now();
    loop =
        new AgentLoop(
            "node-a",
            dataplane,
            new KubeStatusSink(client),
            metrics,
            Clock.systemUTC(),
            "test",
            Duration.ofHours(1),
            Duration.ofSeconds(10));
    informer = AgentMain.watch(client, "node-a", loop);
    loop.start();
    // trigger times in these tests lie up to 250 ms in the past, after the agent's start
    Thread.sleep(300);
  }

  @AfterEach
  void tearDown() {
    informer.close();
    loop.close();
    client.close();
    server.destroy();
  }

  private static EgressPlan plan(Instant triggeredAt, String... sources) {
    EgressPlan p =
        EgressPlan.forNode(
            "node-a",
            new EgressPlanSpec("node-a", List.of(AgentLoopMockTest.forward("shop/web", sources))));
    p.getMetadata()
        .setAnnotations(Map.of(EgressPlan.LAST_CHANGE_TRIGGER_TIME, triggeredAt.toString()));
    return p;
  }

  /** As the controller does it: read, replace; again on 409 (the agent wrote status between). */
  private void update(Instant triggeredAt, String... sources) {
    for (int attempt = 1; ; attempt++) {
      EgressPlan p = client.resources(EgressPlan.class).withName("node-a").get();
      p.getSpec().getEntries().get(0).setSourceIPv4s(List.of(sources));
      p.getMetadata()
          .setAnnotations(Map.of(EgressPlan.LAST_CHANGE_TRIGGER_TIME, triggeredAt.toString()));
      try {
        client.resources(EgressPlan.class).resource(p).update();
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409 || attempt == 5) {
          throw e;
        }
      }
    }
  }

  private double value(String series) {
    return metrics
        .scrape()
        .lines()
        .filter(l -> l.startsWith(series + " "))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .findFirst()
        .orElseThrow(() -> new AssertionError(series + " not scraped"));
  }

  private double count() {
    return value(METRIC + "_count");
  }

  private boolean programmed(String... sources) {
    return !dataplane.synced.isEmpty()
        && dataplane
            .synced
            .get(dataplane.synced.size() - 1)
            .entries()
            .get(0)
            .sources()
            .equals(List.of(sources));
  }

  private static void await(String what, BooleanSupplier check) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!check.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(10);
    }
  }

  @Test
  void measuresEachTriggerTimeOnceFromTheChangeToTheKernel() throws Exception {
    Instant t1 = Instant.now().minusMillis(250);
    assertTrue(t1.isAfter(agentStarted));
    client.resources(EgressPlan.class).resource(plan(t1, "10.244.1.5")).create();
    await("first observation", () -> count() == 1);
    assertTrue(value(METRIC + "_sum") >= 0.25, "includes the 250 ms before the plan write");
    assertTrue(programmed("10.244.1.5"));

    // resyncs and the status write's own watch event program the same trigger time again
    int syncs = dataplane.synced.size();
    loop.trigger(true);
    await("a full resync", () -> dataplane.synced.size() > syncs);
    assertEquals(1, count(), "a resync is not a change");

    Instant t2 = Instant.now().minusMillis(100);
    update(t2, "10.244.1.5", "10.244.1.6");
    await("second observation", () -> count() == 2);
    assertTrue(programmed("10.244.1.5", "10.244.1.6"));
    assertTrue(
        value(METRIC + "_bucket{le=\"0.064\"}") == 0,
        "both observations are above 64 ms:\n" + metrics.scrape());
  }

  @Test
  void triggerTimesFromBeforeTheAgentStartedAreNotMeasured() throws Exception {
    client
        .resources(EgressPlan.class)
        .resource(plan(agentStarted.minusSeconds(3600), "10.244.1.5"))
        .create();
    await("programmed", () -> programmed("10.244.1.5"));
    Instant t = Instant.now().minusMillis(50);
    update(t, "10.244.1.5", "10.244.1.6");
    await("programmed again", () -> programmed("10.244.1.5", "10.244.1.6"));
    await("the change after the start is measured", () -> count() == 1);
    assertTrue(value(METRIC + "_sum") < 3600, "the hour-old trigger time was not measured");
  }
}
