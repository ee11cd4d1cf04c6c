package de.metaleg.controller.k8s;

import de.metaleg.api.v1alpha1.EgressPlanSpec;
import de.metaleg.controller.plan.PlanningState;
import io.fabric8.kubernetes.api.model.Node;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * One reconcile per Node: compute that node's EgressPlan from the shared planning state and write
 * it when it differs. The primary resource is the Node; {@link ClusterWatch} maps Service,
 * EndpointSlice, ServiceL2Status and EgressPlan changes to the nodes they affect.
 */
@ControllerConfiguration(name = EgressPlanReconciler.NAME)
public final class EgressPlanReconciler implements Reconciler<Node> {
  public static final String NAME = "egressplan";

  private final PlanningState state;
  private final ClusterWatch watch;
  private final PlanWriter writer;
  private final ControllerMetrics metrics;
  private final TriggerTimes triggers;

  public EgressPlanReconciler(
      PlanningState state,
      ClusterWatch watch,
      PlanWriter writer,
      ControllerMetrics metrics,
      TriggerTimes triggers) {
    this.state = state;
    this.watch = watch;
    this.writer = writer;
    this.metrics = metrics;
    this.triggers = triggers;
  }

  @Override
  public UpdateControl<Node> reconcile(Node node, Context<Node> context) {
    // 1. Inputs loaded? Planning from half-filled caches would write half-empty plans.
    if (!watch.ready()) {
      return UpdateControl.<Node>noUpdate().rescheduleAfter(Duration.ofSeconds(1));
    }
    // 2. Desired plan; empty while the input informer has not seen this Node yet (it will
    //    trigger this node again when it does).
    //    Changes are taken before planning, so the plan contains every change taken.
    String name = node.getMetadata().getName();
    Optional<Instant> changedAt = triggers.take(name);
    Optional<EgressPlanSpec> desired = metrics.timeNodePlanning(() -> state.plan(name));
    if (desired.isEmpty()) {
      return UpdateControl.noUpdate();
    }
    // 3. Write it if the stored plan differs (spec, node label, owner reference).
    try {
      writer.sync(node, desired.get(), watch.plan(name), changedAt);
    } catch (RuntimeException e) {
      triggers.putBack(name, changedAt); // JOSDK retries; the retry's write carries it
      throw e;
    }
    return UpdateControl.noUpdate();
  }

  @Override
  public List<EventSource<?, Node>> prepareEventSources(EventSourceContext<Node> context) {
    return List.of(watch);
  }
}
