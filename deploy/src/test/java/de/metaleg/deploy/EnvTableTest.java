package de.metaleg.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.common.EnvVar;
import de.metaleg.controller.ControllerConfig;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The users' configuration table has three copies: the code's variable lists, the manifests' env
 * and the README. They must agree: same names, same defaults, nothing undocumented.
 */
class EnvTableTest {
  /** Set in the manifests for the JVM, not read by MetalEG's code. */
  static final Set<String> JVM_ONLY = Set.of("JAVA_TOOL_OPTIONS");

  static Map<String, String> defaults(List<EnvVar> variables) {
    return variables.stream()
        .collect(Collectors.toMap(EnvVar::name, EnvVar::defaultValue, (a, b) -> a, TreeMap::new));
  }

  static Map<String, String> controllerDefaults() {
    return defaults(ControllerConfig.VARIABLES);
  }

  static Map<String, String> agentDefaults() {
    return defaults(AgentConfig.VARIABLES);
  }

  @Test
  void controllerDeploymentSetsEveryVariableToItsDefault() {
    assertManifestMatches(
        Manifests.controller().getSpec().getTemplate().getSpec().getContainers().get(0).getEnv(),
        controllerDefaults());
  }

  @Test
  void agentDaemonSetSetsEveryVariableToItsDefault() {
    assertManifestMatches(
        Manifests.agent().getSpec().getTemplate().getSpec().getContainers().get(0).getEnv(),
        agentDefaults());
  }

  private static void assertManifestMatches(
      List<io.fabric8.kubernetes.api.model.EnvVar> env, Map<String, String> code) {
    Map<String, io.fabric8.kubernetes.api.model.EnvVar> byName =
        env.stream()
            .collect(
                Collectors.toMap(
                    io.fabric8.kubernetes.api.model.EnvVar::getName,
                    e -> e,
                    (a, b) -> a,
                    TreeMap::new));
    Set<String> unknown = new java.util.TreeSet<>(byName.keySet());
    unknown.removeAll(code.keySet());
    unknown.removeAll(JVM_ONLY);
    assertEquals(Set.of(), unknown, "manifest sets variables the code does not read");
    code.forEach(
        (name, def) -> {
          var e = byName.get(name);
          assertTrue(e != null, "manifest lacks " + name);
          if (def.isEmpty()) {
            assertTrue(e.getValueFrom() != null, name + " has no default: comes from the pod");
          } else {
            assertEquals(def, e.getValue(), name + " in the manifest differs from the code");
          }
        });
  }

  @Test
  void readmeDocumentsEveryVariableWithItsDefaultAndReader() {
    String readme = Manifests.read(Manifests.ROOT.resolve("README.md"));
    Map<String, String> rows =
        readme
            .lines()
            .filter(l -> l.startsWith("| `"))
            .collect(
                Collectors.toMap(
                    l -> l.substring(3, l.indexOf('`', 3)), l -> l, (a, b) -> a, TreeMap::new));
    check(rows, controllerDefaults(), "controller");
    check(rows, agentDefaults(), "agent");
  }

  private static void check(Map<String, String> rows, Map<String, String> code, String reader) {
    code.forEach(
        (name, def) -> {
          String row =
              rows.entrySet().stream()
                  .filter(r -> r.getKey().equals(name) || r.getValue().contains("`" + name + "`"))
                  .map(Map.Entry::getValue)
                  .findFirst()
                  .orElseThrow(() -> new AssertionError("README table lacks " + name));
          String[] cells = row.split("\\|");
          assertTrue(
              def.isEmpty() || cells[2].contains("`" + def + "`"), name + " default: " + row);
          assertTrue(
              cells[3].contains(reader) || cells[3].contains("both"),
              name + " read by " + reader + ": " + row);
        });
  }
}
