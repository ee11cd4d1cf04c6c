package de.metaleg.agent.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.AgentMain;
import de.metaleg.agent.KubeStatusSink;
import de.metaleg.agent.kernel.RecordingDataplane;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import de.metaleg.testing.CrudApiServer;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.Interceptor;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The agent's status writes against fabric8's mock API server (CRUD mode): they must land within a
 * second of the sync that produced them even when the controller writes the spec in between or the
 * API fails, and must keep lastTransitionTime across agent restarts. The canary runs every 10 s as
 * in production, so nothing here is rescued by a canary tick. Pods 10.244.1.x, gateway 192.0.2.2,
 * LB IP 198.51.100.10 (see AgentLoopMockTest).
 */
class StatusWriteMockTest {
  private static final Duration WITHIN = Duration.ofSeconds(1);

  /** Records what reached the API server and what failed, around the real sink. */
  static final class RecordingSink implements StatusSink {
    final StatusSink delegate;
    final List<Long> writtenGenerations = new CopyOnWriteArrayList<>();
    final List<String> failures = new CopyOnWriteArrayList<>();
    final AtomicInteger failNext = new AtomicInteger();
    final AtomicLong lastWriteNanos = new AtomicLong();
    final AtomicLong firstFailureNanos = new AtomicLong();

    RecordingSink(StatusSink delegate) {
      this.delegate = delegate;
    }

    @Override
    public void write(String planName, EgressPlanStatus status) {
      if (failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        firstFailureNanos.compareAndSet(0, System.nanoTime());
        failures.add("injected");
        throw new IllegalStateException("injected: API server unavailable");
      }
      try {
        delegate.write(planName, status);
      } catch (RuntimeException e) {
        failures.add(e.getMessage());
        throw e;
      }
      lastWriteNanos.set(System.nanoTime());
      writtenGenerations.add(status.getObservedGeneration());
    }
  }

  private KubernetesMockServer server;
  private KubernetesClient client; // the test's (the controller's) view
  private KubernetesClient agentClient;
  private AgentLoop loop;
  private SharedIndexInformer<EgressPlan> informer;
  private RecordingDataplane dataplane;
  private final AgentMetrics metrics = new AgentMetrics();

  @BeforeEach
  void setUp() {
    server = CrudApiServer.start();
    client = server.createClient();
  }

  @AfterEach
  void tearDown() {
    if (informer != null) {
      informer.close();
    }
    if (loop != null) {
      loop.close();
    }
    if (agentClient != null) {
      agentClient.close();
    }
    client.close();
    server.destroy();
  }

  private RecordingSink startAgent(Interceptor interceptor) {
    agentClient =
        new KubernetesClientBuilder()
            .withConfig(client.getConfiguration())
            .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("test", interceptor))
            .build();
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    dataplane =
        new RecordingDataplane(new NodeFacts(config.markSpace(), config.excludeDestinations()));
    RecordingSink sink = new RecordingSink(new KubeStatusSink(agentClient));
    loop =
        new AgentLoop(
            "node-a",
            dataplane,
            sink,
            metrics,
            Clock.systemUTC(),
            "test",
            Duration.ofHours(1),
            Duration.ofSeconds(10));
    informer = AgentMain.watch(agentClient, "node-a", loop);
    loop.start();
    return sink;
  }

  private static EgressPlan plan(String... sources) {
    return EgressPlan.forNode(
        "node-a",
        new EgressPlanSpec("node-a", List.of(AgentLoopMockTest.forward("shop/web", sources))));
  }

  private EgressPlan stored() {
    return client.resources(EgressPlan.class).withName("node-a").get();
  }

  private static Condition condition(EgressPlanStatus s, String type) {
    return s.condition(type).orElseThrow();
  }

  private boolean readyFor(long generation) {
    EgressPlan p = stored();
    return p != null
        && p.getStatus() != null
        && Long.valueOf(generation).equals(p.getStatus().getObservedGeneration())
        && "True".equals(condition(p.getStatus(), "Ready").getStatus());
  }

  private static void await(String what, Duration within, BooleanSupplier check)
      throws InterruptedException {
    long end = System.nanoTime() + within.toNanos();
    while (!check.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("not within " + within.toMillis() + " ms: " + what);
      }
      Thread.sleep(10);
    }
  }

  @Test
  void specWrittenBetweenReadAndStatusWriteStillLandsAtOnce() throws Exception {
    // the controller writes generation 2 right before the agent's first status write reaches
    // the API server, i.e. after everything the agent read for it
    AtomicBoolean armed = new AtomicBoolean(true);
    AtomicLong specWrittenNanos = new AtomicLong();
    RecordingSink sink =
        startAgent(
            new Interceptor() {
              @Override
              public void before(BasicBuilder builder, HttpRequest request, RequestTags tags) {
                if (request.method().equals("PATCH")
                    && request.uri().getPath().endsWith("/egressplans/node-a/status")
                    && armed.compareAndSet(true, false)) {
                  EgressPlan p = stored();
                  p.getSpec()
                      .getEntries()
                      .get(0)
                      .setSourceIPv4s(List.of("10.244.1.5", "10.244.1.7"));
                  client.resources(EgressPlan.class).resource(p).update();
                  specWrittenNanos.set(System.nanoTime());
                }
              }
            });
    client.resources(EgressPlan.class).resource(plan("10.244.1.5")).create();

    await(
        "Ready for generation 2",
        Duration.ofSeconds(5),
        () -> sink.writtenGenerations.contains(2L) && readyFor(2));
    assertTrue(!armed.get(), "the race was injected");
    assertEquals(List.of(), sink.failures, "no status write failed");
    assertEquals(
        List.of(1L, 2L),
        sink.writtenGenerations,
        "the raced write of generation 1 landed, then generation 2's");
    Duration lag = Duration.ofNanos(sink.lastWriteNanos.get() - specWrittenNanos.get());
    assertTrue(
        lag.compareTo(WITHIN) < 0, "generation 2's status written " + lag + " after its spec");
    assertEquals(
        List.of("10.244.1.5", "10.244.1.7"),
        dataplane.synced.get(dataplane.synced.size() - 1).entries().get(0).sources());
  }

  @Test
  void metadataWrittenBetweenReadAndStatusWriteDoesNotLoseTheStatus() throws Exception {
    // a write that changes no spec (labels, annotations, owner references) triggers no new sync:
    // the status of generation 1 must land by itself
    AtomicBoolean armed = new AtomicBoolean(true);
    RecordingSink sink =
        startAgent(
            new Interceptor() {
              @Override
              public void before(BasicBuilder builder, HttpRequest request, RequestTags tags) {
                if (request.method().equals("PATCH")
                    && request.uri().getPath().endsWith("/egressplans/node-a/status")
                    && armed.compareAndSet(true, false)) {
                  EgressPlan p = stored();
                  p.getMetadata().getLabels().put("touched", "by-the-controller");
                  client.resources(EgressPlan.class).resource(p).update();
                }
              }
            });
    long created = System.nanoTime();
    client.resources(EgressPlan.class).resource(plan("10.244.1.5")).create();
    await("Ready for generation 1", WITHIN, () -> readyFor(1));
    assertTrue(!armed.get(), "the race was injected");
    assertEquals("by-the-controller", stored().getMetadata().getLabels().get("touched"));
    assertEquals(List.of(), sink.failures);
    assertTrue(System.nanoTime() - created < WITHIN.toNanos());
  }

  @Test
  void failedStatusWritesAreRetriedWithBackoffNotAtTheCanaryTick() throws Exception {
    RecordingSink sink = startAgent(new Interceptor() {});
    sink.failNext.set(3); // 100 + 200 + 400 ms of back-off
    client.resources(EgressPlan.class).resource(plan("10.244.1.5")).create();
    await(
        "Ready after three failed writes",
        Duration.ofSeconds(5),
        () -> !sink.writtenGenerations.isEmpty() && readyFor(1));
    Duration took = Duration.ofNanos(sink.lastWriteNanos.get() - sink.firstFailureNanos.get());
    assertEquals(3, sink.failures.size());
    assertEquals(
        List.of("metaleg_agent_status_write_failures_total 3.0"),
        AgentMetricsTest.lines(metrics.scrape(), "metaleg_agent_status_write_failures_total"));
    assertEquals(1, dataplane.synced.size(), "retries rewrite the status, they do not resync");
    assertTrue(took.compareTo(WITHIN) < 0, "status landed " + took + " after the first failure");
  }

  @Test
  void aRestartedAgentKeepsLastTransitionTime() throws Exception {
    String longAgo = "2026-01-01T00:00:00Z";
    client.resources(EgressPlan.class).resource(plan("10.244.1.5")).create();
    // what the previous agent process wrote: Ready since long ago, Degraded (an entry was bad)
    EgressPlanStatus previous = new EgressPlanStatus();
    previous.setObservedGeneration(1L);
    previous.setConditions(
        new ArrayList<>(
            List.of(
                condition("Ready", "True", "Programmed", longAgo),
                condition("Degraded", "True", "EntriesNotProgrammedAsAsked", longAgo))));
    previous.setLastSyncTime(longAgo);
    new KubeStatusSink(client).write("node-a", previous);

    startAgent(new Interceptor() {});
    await(
        "the restarted agent's first status",
        Duration.ofSeconds(5),
        () -> !longAgo.equals(stored().getStatus().getLastSyncTime()));
    EgressPlanStatus s = stored().getStatus();
    assertEquals("True", condition(s, "Ready").getStatus());
    assertEquals(longAgo, condition(s, "Ready").getLastTransitionTime(), "Ready did not change");
    assertEquals("False", condition(s, "Degraded").getStatus());
    assertNotEquals(
        longAgo, condition(s, "Degraded").getLastTransitionTime(), "Degraded did change");
  }

  private static Condition condition(String type, String status, String reason, String since) {
    return new ConditionBuilder()
        .withType(type)
        .withStatus(status)
        .withReason(reason)
        .withMessage("")
        .withObservedGeneration(1L)
        .withLastTransitionTime(since)
        .build();
  }
}
