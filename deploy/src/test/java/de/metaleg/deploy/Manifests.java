package de.metaleg.deploy;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Reads config/ the way kustomize does: the files kustomization.yaml lists, parsed by fabric8. */
final class Manifests {
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  static final Path CONFIG = ROOT.resolve("config");

  private Manifests() {}

  static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @SuppressWarnings("unchecked")
  static List<String> kustomizationResources(Path dir) {
    Map<String, Object> k =
        Serialization.unmarshal(read(dir.resolve("kustomization.yaml")), Map.class);
    return (List<String>) k.get("resources");
  }

  /** Every object of every file the kustomization in {@code dir} lists. */
  static List<HasMetadata> objects(Path dir) {
    List<HasMetadata> all = new ArrayList<>();
    for (String file : kustomizationResources(dir)) {
      for (String doc : read(dir.resolve(file)).split("(?m)^---\\s*$")) {
        if (doc.lines().anyMatch(l -> l.startsWith("kind:"))) {
          KubernetesResource r = Serialization.unmarshal(doc);
          all.add((HasMetadata) r);
        }
      }
    }
    return all;
  }

  static <T extends HasMetadata> T one(List<HasMetadata> objects, Class<T> type, String name) {
    return objects.stream()
        .filter(type::isInstance)
        .map(type::cast)
        .filter(o -> o.getMetadata().getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " " + name));
  }

  static Deployment controller() {
    return one(objects(CONFIG), Deployment.class, "metaleg-controller");
  }

  static DaemonSet agent() {
    return one(objects(CONFIG), DaemonSet.class, "metaleg-agent");
  }
}
