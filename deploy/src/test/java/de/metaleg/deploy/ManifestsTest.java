package de.metaleg.deploy;

import static de.metaleg.deploy.Manifests.CONFIG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class ManifestsTest {
  @Test
  void kustomizationsListEveryManifestFile() throws IOException {
    for (Path dir : List.of(CONFIG, CONFIG.resolve("cleanup"), CONFIG.resolve("prometheus"))) {
      Set<String> listed = new TreeSet<>(Manifests.kustomizationResources(dir));
      Set<String> onDisk;
      try (Stream<Path> files = Files.walk(dir)) {
        onDisk =
            files
                .filter(p -> p.toString().matches(".*\\.ya?ml$"))
                .filter(p -> !p.getFileName().toString().equals("kustomization.yaml"))
                .filter(p -> !inNestedKustomization(dir, p))
                // Kubernetes objects only: not the Prometheus rules, tests and config files
                .filter(p -> Manifests.read(p).lines().anyMatch(l -> l.startsWith("kind:")))
                .map(p -> dir.relativize(p).toString())
                .collect(Collectors.toCollection(TreeSet::new));
      }
      assertEquals(onDisk, listed, dir + "/kustomization.yaml must list every manifest");
    }
  }

  /** Below {@code dir}, in a directory with its own kustomization.yaml (config/cleanup/ ...). */
  private static boolean inNestedKustomization(Path dir, Path file) {
    for (Path d = file.getParent(); !d.equals(dir); d = d.getParent()) {
      if (Files.exists(d.resolve("kustomization.yaml"))) {
        return true;
      }
    }
    return false;
  }

  @Test
  void controllerIsOneNonRootReplicaWithProbesOnTheDefaultPorts() {
    Deployment d = Manifests.controller();
    assertEquals(1, d.getSpec().getReplicas());
    PodSpec pod = d.getSpec().getTemplate().getSpec();
    assertEquals(Boolean.TRUE, pod.getSecurityContext().getRunAsNonRoot());
    Container c = pod.getContainers().get(0);
    assertProbesAndPorts(c);
    assertEquals(Boolean.TRUE, c.getSecurityContext().getReadOnlyRootFilesystem());
    assertEquals(List.of("ALL"), c.getSecurityContext().getCapabilities().getDrop());
    assertTrue(
        c.getSecurityContext().getCapabilities().getAdd() == null
            || c.getSecurityContext().getCapabilities().getAdd().isEmpty());
    Set<String> downward =
        c.getEnv().stream()
            .filter(e -> e.getValueFrom() != null)
            .map(e -> e.getName() + "=" + e.getValueFrom().getFieldRef().getFieldPath())
            .collect(Collectors.toSet());
    assertEquals(Set.of("POD_NAME=metadata.name", "POD_NAMESPACE=metadata.namespace"), downward);
  }

  @Test
  void agentRunsOnEveryNodeWithOnlyNetAdminAndNetRaw() {
    DaemonSet ds = Manifests.agent();
    PodSpec pod = ds.getSpec().getTemplate().getSpec();
    assertEquals(Boolean.TRUE, pod.getHostNetwork());
    assertEquals("system-node-critical", pod.getPriorityClassName());
    assertTrue(
        pod.getTolerations().stream()
            .anyMatch(
                t ->
                    "Exists".equals(t.getOperator())
                        && t.getKey() == null
                        && t.getEffect() == null),
        "tolerates every taint");
    assertEquals("RollingUpdate", ds.getSpec().getUpdateStrategy().getType());
    assertEquals(
        1, ds.getSpec().getUpdateStrategy().getRollingUpdate().getMaxUnavailable().getIntVal());
    Container c = pod.getContainers().get(0);
    assertProbesAndPorts(c);
    assertEquals(List.of("ALL"), c.getSecurityContext().getCapabilities().getDrop());
    assertEquals(
        Set.of("NET_ADMIN", "NET_RAW"),
        Set.copyOf(c.getSecurityContext().getCapabilities().getAdd()));
    assertEquals(
        "spec.nodeName",
        c.getEnv().stream()
            .filter(e -> e.getName().equals("NODE_NAME"))
            .findFirst()
            .orElseThrow()
            .getValueFrom()
            .getFieldRef()
            .getFieldPath());
  }

  /**
   * Probe paths and ports must be the defaults of HEALTH_PROBE_BIND_ADDRESS/METRICS_BIND_ADDRESS.
   */
  private static void assertProbesAndPorts(Container c) {
    assertEquals("/healthz", c.getLivenessProbe().getHttpGet().getPath());
    assertEquals("/readyz", c.getReadinessProbe().getHttpGet().getPath());
    Set<String> ports =
        c.getPorts().stream()
            .map(p -> p.getName() + ":" + p.getContainerPort())
            .collect(Collectors.toSet());
    assertEquals(Set.of("metrics:21793", "health:21794"), ports);
    assertEquals("health", c.getLivenessProbe().getHttpGet().getPort().getStrVal());
    assertEquals("health", c.getReadinessProbe().getHttpGet().getPort().getStrVal());
  }
}
