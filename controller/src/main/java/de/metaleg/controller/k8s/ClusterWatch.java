package de.metaleg.controller.k8s;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.common.Threads;
import de.metaleg.controller.plan.AnnouncerInfo;
import de.metaleg.controller.plan.EndpointInput;
import de.metaleg.controller.plan.PlanningState;
import de.metaleg.controller.plan.ServiceInput;
import de.metaleg.controller.plan.ServiceKey;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.javaoperatorsdk.operator.OperatorException;
import io.javaoperatorsdk.operator.health.Status;
import io.javaoperatorsdk.operator.processing.event.Event;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.AbstractEventSource;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's inputs as one JOSDK event source. It runs its own informers (labelled Services,
 * EndpointSlices, Nodes, ServiceL2Status in all namespaces, EgressPlans), feeds every change into
 * the {@link PlanningState} and triggers a reconcile of exactly the nodes whose plan may have
 * changed. Every {@code RECONCILIATION_INTERVAL} it rebuilds the state from the caches and triggers
 * every node. While a Service's gateway is bridged by the grace period, a one-shot timer runs
 * {@link PlanningState#expire} when the grace runs out. Its callbacks do no API I/O: plans of
 * vanished nodes are handed to {@link OrphanPlans}, which deletes them on a thread of its own.
 */
public final class ClusterWatch extends AbstractEventSource<EgressPlan, Node> {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterWatch.class);

  private final KubernetesClient client;
  private final PlanningState state;
  private final Duration resyncInterval;
  private final EventRecorder events;
  private final ControllerMetrics metrics;
  private final TriggerTimes triggers;
  private final ExecutorService orphanThread =
      Executors.newSingleThreadExecutor(Threads.daemon("metaleg-orphans"));
  private final OrphanPlans orphans;
  private final Object lock = new Object();

  private SharedIndexInformer<Node> nodes;
  private SharedIndexInformer<Service> services;
  private SharedIndexInformer<EndpointSlice> slices;
  private SharedIndexInformer<ServiceL2Status> announcers;
  private SharedIndexInformer<EgressPlan> plans;
  private ScheduledExecutorService timers;
  private ScheduledFuture<?> expiry; // guarded by lock
  private long expiryAtNanos;
  private volatile boolean primed;

  public ClusterWatch(
      KubernetesClient client,
      PlanningState state,
      Duration resyncInterval,
      EventRecorder events,
      ControllerMetrics metrics,
      PlanWriter writer,
      java.util.function.BooleanSupplier leading,
      TriggerTimes triggers) {
    super(EgressPlan.class, "cluster-watch");
    this.client = client;
    this.state = state;
    this.resyncInterval = resyncInterval;
    this.events = events;
    this.metrics = metrics;
    this.triggers = triggers;
    this.orphans = new OrphanPlans(state::hasNode, writer::delete, leading, orphanThread);
  }

  @Override
  public void start() throws OperatorException {
    nodes = client.nodes().runnableInformer(0);
    services =
        client
            .services()
            .inAnyNamespace()
            .withLabel(EgressPlan.SERVICE_OPT_IN_LABEL, "true")
            .runnableInformer(0);
    slices =
        client
            .discovery()
            .v1()
            .endpointSlices()
            .inAnyNamespace()
            .withLabel(Adapter.SLICE_SERVICE_LABEL)
            .runnableInformer(0);
    // All namespaces: MetalLB 0.14.4-0.14.5 kept these objects in the Service's namespace.
    announcers = client.resources(ServiceL2Status.class).inAnyNamespace().runnableInformer(0);
    plans = client.resources(EgressPlan.class).runnableInformer(0);

    nodes.addEventHandler(
        handler(
            n -> state.putNode(Adapter.node(n)),
            n -> {
              PlanningState.Update u = state.removeNode(n.getMetadata().getName());
              orphans.check(Set.of(n.getMetadata().getName())); // after: it asks the state
              return u;
            }));
    services.addEventHandler(
        handler(
            s -> state.putService(Adapter.service(s)), s -> state.removeService(Adapter.key(s))));
    slices.addEventHandler(
        handler(
            s ->
                Adapter.sliceService(s)
                    .map(k -> state.putSlice(k, s.getMetadata().getName(), Adapter.endpoints(s)))
                    .orElse(PlanningState.Update.NONE),
            s ->
                Adapter.sliceService(s)
                    .map(k -> state.removeSlice(k, s.getMetadata().getName()))
                    .orElse(PlanningState.Update.NONE)));
    announcers.addEventHandler(
        handler(
            a -> state.putAnnouncer(Adapter.announcer(a)),
            a -> state.removeAnnouncer(Adapter.id(a))));
    plans.addEventHandler(handler(this::planChanged, this::planChanged));

    List<SharedIndexInformer<?>> all = List.of(nodes, services, slices, announcers, plans);
    try {
      for (SharedIndexInformer<?> i : all) {
        i.start().toCompletableFuture().get(2, TimeUnit.MINUTES);
      }
    } catch (Exception e) {
      throw new OperatorException("informers did not sync: " + e.getMessage(), e);
    }
    timers = Executors.newSingleThreadScheduledExecutor(Threads.daemon("metaleg-resync"));
    resync();
    long period = resyncInterval.toMillis();
    timers.scheduleAtFixedRate(this::resyncSafely, period, period, TimeUnit.MILLISECONDS);
    super.start();
  }

  @Override
  public void stop() throws OperatorException {
    if (timers != null) {
      timers.shutdownNow();
    }
    for (SharedIndexInformer<?> i :
        new SharedIndexInformer<?>[] {nodes, services, slices, announcers, plans}) {
      if (i != null) {
        i.stop();
      }
    }
    orphanThread.shutdownNow(); // after the informers: a late callback must still find it open
    super.stop();
  }

  /** True once all informers have synced and the state was built from them. */
  public boolean ready() {
    return primed;
  }

  /** Unhealthy when one of the input informers has stopped (it no longer sees changes). */
  @Override
  public Status getStatus() {
    if (plans == null) {
      return Status.UNKNOWN;
    }
    for (SharedIndexInformer<?> i : List.of(nodes, services, slices, announcers, plans)) {
      if (!i.isRunning()) {
        return Status.UNHEALTHY;
      }
    }
    return Status.HEALTHY;
  }

  /** The cached EgressPlan of a node. */
  public Optional<EgressPlan> plan(String node) {
    return Optional.ofNullable(plans.getStore().getByKey(node));
  }

  @Override
  public Set<EgressPlan> getSecondaryResources(Node node) {
    return plan(node.getMetadata().getName()).map(Set::of).orElse(Set.of());
  }

  /**
   * Rebuilds the state from the caches, hands plans without a Node to {@link OrphanPlans} and
   * triggers every node. Held under the same lock as event handling, so no event is lost between
   * listing the caches and replacing the state.
   */
  public void resync() {
    synchronized (lock) {
      Map<ServiceKey, Map<String, List<EndpointInput>>> bySlice = new HashMap<>();
      for (EndpointSlice s : slices.getStore().list()) {
        Adapter.sliceService(s)
            .ifPresent(
                k ->
                    bySlice
                        .computeIfAbsent(k, x -> new HashMap<>())
                        .put(s.getMetadata().getName(), Adapter.endpoints(s)));
      }
      List<ServiceInput> svcs = new ArrayList<>();
      services.getStore().list().forEach(s -> svcs.add(Adapter.service(s)));
      List<AnnouncerInfo> l2 = new ArrayList<>();
      announcers.getStore().list().forEach(a -> l2.add(Adapter.announcer(a)));
      PlanningState.Update u =
          metrics.timeFullPlanning(
              () ->
                  state.replaceAll(
                      nodes.getStore().list().stream().map(Adapter::node).toList(),
                      svcs,
                      bySlice,
                      l2));
      primed = true;
      apply(u, Optional.empty());
      orphans.check(
          plans.getStore().list().stream()
              .map(p -> p.getMetadata().getName())
              .filter(n -> !state.hasNode(n))
              .toList());
    }
  }

  private void resyncSafely() {
    try {
      resync();
    } catch (RuntimeException e) {
      LOG.error("periodic resync failed; retrying at the next interval", e);
    }
  }

  /** A plan was edited or deleted by someone: let its node's reconcile compare and repair it. */
  private PlanningState.Update planChanged(EgressPlan p) {
    String name = p.getMetadata().getName();
    if (state.hasNode(name)) {
      trigger(Set.of(name));
    } else if (plans.getStore().getByKey(name) != null) {
      orphans.check(Set.of(name)); // a plan for a node that does not exist
    }
    return PlanningState.Update.NONE;
  }

  /** After the state took the change: its time goes to the affected nodes, then they reconcile. */
  private void apply(PlanningState.Update u, Optional<Instant> changedAt) {
    u.findings().forEach(events::record);
    triggers.record(u.nodes(), changedAt);
    trigger(u.nodes());
    metrics.syncGatewayServices();
    scheduleExpiry();
  }

  /**
   * Arms the one-shot timer for the earliest bridged gateway (a grace period running out), unless
   * it is already armed for that moment or earlier. Called under {@link #lock}.
   */
  private void scheduleExpiry() {
    Optional<Duration> next = state.timeToNextExpiry();
    if (next.isEmpty() || timers == null || timers.isShutdown()) {
      return;
    }
    // +1 ms: the timer must not fire before the instant the state compares against
    long delayMillis = next.get().toMillis() + 1;
    long at = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis);
    if (expiry != null && !expiry.isDone() && expiryAtNanos - at <= 0) {
      return;
    }
    if (expiry != null) {
      expiry.cancel(false);
    }
    expiryAtNanos = at;
    expiry = timers.schedule(this::expire, delayMillis, TimeUnit.MILLISECONDS);
  }

  private void expire() {
    synchronized (lock) {
      expiry = null;
      try {
        apply(
            state.expire(),
            Optional.of(Instant.now())); // the grace ended: the change takes effect now
      } catch (RuntimeException e) {
        LOG.error("ending a gateway grace period failed; the next change or resync retries", e);
      }
    }
  }

  private void trigger(Set<String> nodeNames) {
    if (getEventHandler() == null) {
      return;
    }
    nodeNames.forEach(n -> getEventHandler().handleEvent(new Event(new ResourceID(n))));
  }

  private <T extends HasMetadata> ResourceEventHandler<T> handler(
      Function<T, PlanningState.Update> upsert, Function<T, PlanningState.Update> delete) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        guarded(() -> apply(upsert.apply(obj), triggers.changeTime(obj, true)));
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        guarded(() -> apply(upsert.apply(newObj), triggers.changeTime(newObj, false)));
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        guarded(() -> apply(delete.apply(obj), triggers.deleteTime()));
      }
    };
  }

  private void guarded(Runnable action) {
    synchronized (lock) {
      if (!primed) {
        return; // the initial resync reads the caches, which already hold this object
      }
      try {
        action.run();
      } catch (RuntimeException e) {
        LOG.error("handling a change failed; the next resync repairs the state", e);
      }
    }
  }
}
