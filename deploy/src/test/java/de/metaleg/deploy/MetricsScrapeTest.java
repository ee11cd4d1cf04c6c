package de.metaleg.deploy;

import static de.metaleg.deploy.Manifests.CONFIG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The scrape path from a ServiceMonitor (config/prometheus/) to the metrics port: each monitor
 * selects its component's metrics Service (config/), which selects the component's pods and targets
 * their {@code metrics} container port; the job and node labels the rules rely on are set.
 */
class MetricsScrapeTest {
  static final Path COMPONENT = CONFIG.resolve("prometheus");

  @Test
  void controllerMonitorReachesTheControllerMetricsPort() {
    assertScrapePath(
        "metaleg-controller",
        "metaleg-controller-metrics",
        Manifests.controller().getSpec().getTemplate());
  }

  @Test
  void agentMonitorReachesEveryAgentMetricsPort() {
    assertScrapePath(
        "metaleg-agent", "metaleg-agent-metrics", Manifests.agent().getSpec().getTemplate());
  }

  @SuppressWarnings("unchecked")
  private static void assertScrapePath(
      String monitorName, String serviceName, PodTemplateSpec pod) {
    List<HasMetadata> objects = Manifests.objects(COMPONENT);
    GenericKubernetesResource monitor =
        objects.stream()
            .filter(o -> o.getKind().equals("ServiceMonitor"))
            .map(GenericKubernetesResource.class::cast)
            .filter(o -> o.getMetadata().getName().equals(monitorName))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no ServiceMonitor " + monitorName));
    Service svc = Manifests.one(Manifests.objects(CONFIG), Service.class, serviceName);
    Map<String, Object> spec = (Map<String, Object>) monitor.getAdditionalProperties().get("spec");

    // monitor → Service: matchLabels ⊆ the Service's labels; job from a label the Service has
    Map<String, String> match =
        (Map<String, String>) ((Map<String, Object>) spec.get("selector")).get("matchLabels");
    assertTrue(
        svc.getMetadata().getLabels().entrySet().containsAll(match.entrySet()),
        monitorName + " selects " + serviceName);
    String jobLabel = (String) spec.get("jobLabel");
    assertEquals(monitorName, svc.getMetadata().getLabels().get(jobLabel), "job label value");
    assertEquals(
        svc.getMetadata().getNamespace() == null
            ? "metallb-system"
            : svc.getMetadata().getNamespace(),
        monitor.getMetadata().getNamespace(),
        "the monitor lives next to the Service (config/ installs into metallb-system)");

    // monitor endpoint → Service port, and the node label the rules use
    Map<String, Object> endpoint = ((List<Map<String, Object>>) spec.get("endpoints")).get(0);
    ServicePort port =
        svc.getSpec().getPorts().stream()
            .filter(p -> p.getName().equals(endpoint.get("port")))
            .findFirst()
            .orElseThrow(
                () -> new AssertionError(serviceName + " has port " + endpoint.get("port")));
    assertEquals("/metrics", endpoint.get("path"));
    assertTrue(
        ((List<Map<String, Object>>) endpoint.get("relabelings"))
            .stream()
                .anyMatch(
                    r ->
                        "node".equals(r.get("targetLabel"))
                            && List.of("__meta_kubernetes_pod_node_name")
                                .equals(r.get("sourceLabels"))),
        monitorName + " sets the node label");

    // Service → pods → container port
    assertTrue(
        pod.getMetadata()
            .getLabels()
            .entrySet()
            .containsAll(svc.getSpec().getSelector().entrySet()),
        serviceName + " selects the pods");
    Container c = pod.getSpec().getContainers().get(0);
    assertTrue(
        c.getPorts().stream()
            .anyMatch(
                p ->
                    p.getName().equals(port.getTargetPort().getStrVal())
                        && p.getContainerPort() == 21793),
        serviceName + " targets the container's metrics port 21793");
  }

  /**
   * Renders config/ with the component the way a user's overlay would, when kubectl is installed
   * (kustomize refuses an overlay inside config/: it would contain its own base).
   */
  @Test
  void overlayWithTheComponentRenders() throws IOException, InterruptedException {
    Assumptions.assumeTrue(
        Files.isExecutable(Path.of("/usr/bin/kubectl"))
            || Files.isExecutable(Path.of("/usr/local/bin/kubectl")),
        "kubectl not installed: skipping the kustomize render");
    Path overlay = Files.createDirectories(Path.of("target/overlay-with-prometheus"));
    Files.writeString(
        overlay.resolve("kustomization.yaml"),
        """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources:
          - ../../../config
        components:
          - ../../../config/prometheus
        """);
    Process p =
        new ProcessBuilder("kubectl", "kustomize", overlay.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    for (String s :
        List.of(
            "kind: ServiceMonitor",
            "kind: PrometheusRule",
            "name: metaleg-agent-metrics",
            "name: metaleg-controller-metrics")) {
      assertTrue(out.contains(s), "rendered output has " + s);
    }
  }
}
