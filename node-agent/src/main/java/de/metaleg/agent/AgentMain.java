package de.metaleg.agent;

import de.metaleg.agent.kernel.Cleanup;
import de.metaleg.agent.kernel.Dataplane;
import de.metaleg.agent.kernel.IptablesDataplane;
import de.metaleg.agent.kernel.IptablesFlavor;
import de.metaleg.agent.kernel.NftDataplane;
import de.metaleg.agent.kernel.ProcessRunner;
import de.metaleg.agent.kernel.TransitionDataplane;
import de.metaleg.agent.kernel.XtablesMonitor;
import de.metaleg.agent.loop.AgentLoop;
import de.metaleg.agent.loop.AgentMetrics;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.common.ConfigException;
import de.metaleg.common.HttpEndpoints;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry point of metaleg-node-agent.jar: config → kernel backend → client → watch of this node's
 * EgressPlan → loop, probes and metrics. {@code --cleanup} removes every MetalEG kernel object and
 * exits (no API server needed).
 */
public final class AgentMain {
  private static final Logger LOG = LoggerFactory.getLogger(AgentMain.class);
  static final Duration CANARY_INTERVAL = Duration.ofSeconds(10);

  private AgentMain() {}

  public static void main(String[] args) throws InterruptedException {
    boolean cleanup = Arrays.asList(args).contains("--cleanup");
    AgentConfig config;
    try {
      config =
          cleanup ? AgentConfig.forCleanup(System.getenv()) : AgentConfig.fromEnv(System.getenv());
    } catch (ConfigException e) {
      System.err.println("metaleg-node-agent: invalid configuration: " + e.getMessage());
      System.exit(2);
      return;
    }
    ProcessRunner runner = ProcessRunner.host();
    if (cleanup) {
      List<String> problems = Cleanup.run(runner, config.markSpace());
      problems.forEach(p -> System.err.println("metaleg-node-agent --cleanup: " + p));
      System.exit(problems.isEmpty() ? 0 : 1);
      return;
    }
    run(config, runner);
  }

  static String version() {
    String v = AgentMain.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  private static void run(AgentConfig config, ProcessRunner runner) throws InterruptedException {
    NodeFacts facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
    // the canary reads nf_tables objects back only after a foreign commit (docs/agent.md, canary)
    XtablesMonitor changes = new XtablesMonitor(runner.prefix());
    Dataplane backend =
        config.firewallBackend().equals("nftables")
            ? new NftDataplane(runner, facts, changes)
            : new IptablesDataplane(runner, IptablesFlavor.detect(runner), facts, changes);
    TransitionDataplane dataplane =
        new TransitionDataplane(backend, runner, config.excludeDestinations(), Clock.systemUTC());
    LOG.info(
        "metaleg-node-agent {} on node {}: firewall {}, routes {}, mask {}, tables {}..{}",
        version(),
        config.nodeName(),
        dataplane.firewallBackend(),
        config.routeBackend(),
        de.metaleg.agent.model.MarkSpace.hex(config.markSpace().mask()),
        config.markSpace().firstTable(),
        config.markSpace().lastTable());
    AgentMetrics metrics = new AgentMetrics();
    metrics.conntrackDeletions(dataplane::conntrackEntriesDeleted);
    metrics.guardDrops(guard -> dataplane.guardDrops().getOrDefault(guard, 0L));
    KubernetesClient client = new KubernetesClientBuilder().build();
    AgentLoop loop =
        new AgentLoop(
            config.nodeName(),
            dataplane,
            new KubeStatusSink(client),
            metrics,
            Clock.systemUTC(),
            version(),
            config.reconciliationInterval(),
            CANARY_INTERVAL);
    HttpEndpoints endpoints =
        HttpEndpoints.start(
            config.metricsAddress(),
            metrics::scrape,
            config.healthProbeAddress(),
            loop::healthy,
            loop::ready);
    SharedIndexInformer<EgressPlan> informer = watch(client, config.nodeName(), loop);
    metrics.watchConnected(informer::isWatching);
    loop.start();
    CountDownLatch stop = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  informer.close();
                  loop.close();
                  endpoints.close();
                  client.close();
                  stop.countDown();
                }));
    stop.await();
  }

  /** Watches only the EgressPlan named after this node; retries forever when the API is down. */
  public static SharedIndexInformer<EgressPlan> watch(
      KubernetesClient client, String node, AgentLoop loop) {
    SharedIndexInformer<EgressPlan> informer =
        client.resources(EgressPlan.class).withName(node).runnableInformer(0);
    informer.addEventHandler(
        new ResourceEventHandler<>() {
          @Override
          public void onAdd(EgressPlan plan) {
            loop.onPlan(plan);
          }

          @Override
          public void onUpdate(EgressPlan old, EgressPlan plan) {
            loop.onPlan(plan);
          }

          @Override
          public void onDelete(EgressPlan plan, boolean unknownFinalState) {
            loop.onPlanDeleted();
          }
        });
    informer.exceptionHandler(
        (started, t) -> {
          LOG.warn(
              "watch of EgressPlan {} failed, retrying (kernel keeps its state): {}",
              node,
              t.toString());
          return true;
        });
    informer.start();
    return informer;
  }
}
