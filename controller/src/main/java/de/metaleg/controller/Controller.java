package de.metaleg.controller;

import de.metaleg.controller.k8s.Adapter;
import de.metaleg.controller.k8s.ClusterWatch;
import de.metaleg.controller.k8s.ControllerMetrics;
import de.metaleg.controller.k8s.EgressPlanReconciler;
import de.metaleg.controller.k8s.EventRecorder;
import de.metaleg.controller.k8s.PlanWriter;
import de.metaleg.controller.k8s.TriggerTimes;
import de.metaleg.controller.plan.PlanningState;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.monitoring.micrometer.MicrometerMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires the controller: planning state, event source, reconciler, JOSDK operator (leader election
 * when configured). Plans are written with create and update (PUT with the cached resourceVersion,
 * see {@link PlanWriter}), never server-side apply; the reconciler never patches its primary (the
 * Node), so JOSDK's primary-patch setting below only keeps SSA off should it ever do. Used by
 * {@link ControllerMain} and by the mock-server tests, so both run the same code.
 */
public final class Controller implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Controller.class);
  private final Operator operator;
  private final ClusterWatch watch;
  private final EventRecorder events;
  private final AtomicBoolean leading;
  private volatile boolean stopping;

  /**
   * @param onLostLeadership called when this replica stops leading while not shutting down (the
   *     main exits the process, so a restarted pod rejoins the election with fresh caches)
   */
  public Controller(
      ControllerConfig config,
      KubernetesClient client,
      MeterRegistry registry,
      int maxPlanBytes,
      Runnable onLostLeadership) {
    registry.config().meterFilter(ControllerMetrics.fixedBuckets());
    leading = new AtomicBoolean(!config.leaderElection());
    PlanningState state = new PlanningState(config.plannerConfig());
    ControllerMetrics metrics = new ControllerMetrics(registry, state);
    events = new EventRecorder(client, leading::get);
    PlanWriter writer = new PlanWriter(client, metrics, events, maxPlanBytes);
    TriggerTimes triggers = new TriggerTimes(Clock.systemUTC());
    watch =
        new ClusterWatch(
            client,
            state,
            config.reconciliationInterval(),
            events,
            metrics,
            writer,
            leading::get,
            triggers);
    operator =
        new Operator(
            o -> {
              o.withKubernetesClient(client)
                  .withMetrics(MicrometerMetrics.withoutPerResourceMetrics(registry))
                  .withUseSSAToPatchPrimaryResource(false)
                  .withCloseClientOnStop(false);
              config
                  .leaseNamespace()
                  .ifPresent(
                      ns ->
                          o.withLeaderElectionConfiguration(
                              new LeaderElectionConfiguration(
                                  ControllerConfig.LEASE_NAME,
                                  ns,
                                  LeaderElectionConfiguration.LEASE_DURATION_DEFAULT_VALUE,
                                  LeaderElectionConfiguration.RENEW_DEADLINE_DEFAULT_VALUE,
                                  LeaderElectionConfiguration.RETRY_PERIOD_DEFAULT_VALUE,
                                  config.identity().orElse(null),
                                  new LeaderCallbacks(
                                      () -> leading.set(true),
                                      () -> {
                                        leading.set(false);
                                        if (!stopping) {
                                          onLostLeadership.run();
                                        }
                                      },
                                      leader -> {}),
                                  // JOSDK's own exit would run System.exit inside our shutdown
                                  // hook (a deadlock); onLostLeadership decides instead.
                                  false)));
            });
    operator.register(
        new EgressPlanReconciler(state, watch, writer, metrics, triggers),
        o ->
            o.withOnUpdateFilter(
                // Node status heartbeats do not concern plans; address changes do.
                (newNode, oldNode) ->
                    !Adapter.node(newNode).equals(Adapter.node(oldNode))
                        || !java.util.Objects.equals(
                            newNode.getMetadata().getUid(), oldNode.getMetadata().getUid())));
  }

  public void start() {
    operator.start();
  }

  /** Rebuilds the planning state from the caches now, as the periodic resync does. */
  public void resync() {
    watch.resync();
  }

  /** Informers synced and the planning state built: the controller can plan. */
  public boolean ready() {
    return watch.ready();
  }

  /**
   * For /healthz: false once an informer (JOSDK's or ours) has stopped; true while starting, so a
   * slow initial list does not get the pod killed.
   */
  public boolean healthy() {
    return healthy(
        () -> operator.getRuntimeInfo().isStarted(),
        () -> operator.getRuntimeInfo().allEventSourcesAreHealthy());
  }

  /** False when the check itself throws: a liveness probe that cannot tell is not a pass. */
  static boolean healthy(BooleanSupplier started, BooleanSupplier eventSourcesHealthy) {
    try {
      return !started.getAsBoolean() || eventSourcesHealthy.getAsBoolean();
    } catch (RuntimeException e) {
      LOG.warn("health check failed, reporting unhealthy: {}", e.toString());
      return false;
    }
  }

  /** Whether this replica may write (always, without leader election). */
  public boolean leading() {
    return leading.get();
  }

  @Override
  public void close() {
    stopping = true;
    operator.stop();
    events.close();
  }
}
