package de.metaleg.controller;

import de.metaleg.common.ConfigException;
import de.metaleg.common.HttpEndpoints;
import de.metaleg.controller.k8s.PlanWriter;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Entry point of metaleg-controller.jar: config, client, operator, HTTP endpoints, start. */
public final class ControllerMain {
  private static final Logger LOG = LoggerFactory.getLogger(ControllerMain.class);

  private ControllerMain() {}

  public static void main(String[] args) {
    ControllerConfig config;
    try {
      config = ControllerConfig.fromEnv(System.getenv());
    } catch (ConfigException e) {
      System.err.println("metaleg-controller: invalid configuration: " + e.getMessage());
      System.exit(2);
      return;
    }
    LOG.info("starting with {}", config);
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    KubernetesClient client = new KubernetesClientBuilder().build();
    Controller controller =
        new Controller(
            config,
            client,
            registry,
            PlanWriter.MAX_PLAN_BYTES,
            () -> {
              LOG.error("lost leadership; exiting so that a restart rejoins the election");
              new Thread(() -> System.exit(1), "metaleg-exit").start();
            });
    HttpEndpoints http =
        HttpEndpoints.start(
            config.metricsAddress(),
            registry::scrape,
            config.healthProbeAddress(),
            controller::healthy,
            controller::ready);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  controller.close();
                  http.close();
                  client.close();
                },
                "metaleg-shutdown"));
    try {
      controller.start();
    } catch (RuntimeException e) {
      LOG.error("cannot start: {}", e.getMessage(), e);
      System.err.println("metaleg-controller: cannot start: " + e.getMessage());
      System.exit(1); // runs the shutdown hook, which stops the HTTP servers
    }
    LOG.info("metaleg-controller running (leader election: {})", config.leaderElection());
  }
}
