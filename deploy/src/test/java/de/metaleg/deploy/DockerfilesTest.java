package de.metaleg.deploy;

import static de.metaleg.deploy.Manifests.ROOT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.deploy.Dockerfile.Instruction;
import de.metaleg.deploy.Dockerfile.Stage;
import io.fabric8.kubernetes.api.model.PodSpec;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The two images, read as instructions ({@link Dockerfile}): a Maven build stage that packages the
 * module, a JRE runtime stage that copies exactly the jar the build produces and runs it with an
 * exec-form ENTRYPOINT, and users, ports and packages that fit the manifests in config/.
 */
class DockerfilesTest {
  static final String CONTROLLER = "Dockerfile.controller";
  static final String AGENT = "Dockerfile.agent";

  static Dockerfile read(String file) {
    return Dockerfile.parse(Manifests.read(ROOT.resolve(file)));
  }

  /** The jar a module's build writes: {@code <module>/target/<finalName>.jar}. */
  static String jarOf(String module) {
    Matcher m = Pattern.compile("<finalName>([^<]+)</finalName>").matcher(pom(module));
    assertTrue(m.find(), module + "/pom.xml sets finalName");
    return m.group(1) + ".jar";
  }

  static String pom(String module) {
    return Manifests.read(ROOT.resolve(module).resolve("pom.xml"));
  }

  /** {@code module} and the reactor modules it depends on, transitively (any scope). */
  static Set<String> withDependencies(String module) {
    Set<String> out = new LinkedHashSet<>();
    List<String> todo = new ArrayList<>(List.of(module));
    Matcher m = Pattern.compile("<artifactId>metaleg-([a-z-]+)</artifactId>").matcher("");
    while (!todo.isEmpty()) {
      String next = todo.remove(0);
      if (out.add(next)) {
        m.reset(pom(next));
        while (m.find()) {
          if (!m.group(1).equals("parent") && !m.group(1).equals(next)) {
            todo.add(m.group(1));
          }
        }
      }
    }
    return out;
  }

  @Test
  void controllerImageRunsTheJarItsBuildStageProduces() {
    assertShipsJar(CONTROLLER, "controller");
  }

  @Test
  void agentImageRunsTheJarItsBuildStageProduces() {
    assertShipsJar(AGENT, "node-agent");
  }

  /**
   * Build stage: copies every module's pom (the reactor reads them all) and the sources of the
   * module and its reactor dependencies, then packages the module. Runtime stage: another base
   * image without build tools, copies the jar from the build stage, runs it in exec form (java is
   * PID 1 and gets SIGTERM) with no CMD appending arguments, and carries the OCI title label.
   */
  private static void assertShipsJar(String file, String module) {
    Dockerfile d = read(file);
    assertEquals(2, d.stages().size(), file + ": a build and a runtime stage");
    Stage build = d.stage("build");
    Stage runtime = d.runtime();
    assertNotEquals(build, runtime, file + ": the build stage is not the runtime stage");

    String workdir = build.last("WORKDIR").orElseThrow().args();
    Set<String> copied =
        build.all("COPY").stream()
            .map(c -> c.words().get(0).replaceAll("/$", ""))
            .collect(Collectors.toSet());
    assertTrue(copied.contains("pom.xml"), file + ": build stage copies the root pom");
    for (String m : modules()) {
      assertTrue(copied.contains(m + "/pom.xml"), file + ": build stage copies " + m + "/pom.xml");
    }
    for (String m : withDependencies(module)) {
      assertTrue(copied.contains(m), file + ": build stage copies the sources of " + m);
    }
    assertTrue(
        build.all("RUN").stream()
            .flatMap(r -> r.commands().stream())
            .anyMatch(
                c ->
                    c.get(0).equals("mvn")
                        && c.contains("package")
                        && c.indexOf("-pl") >= 0
                        && c.indexOf("-pl") + 1 < c.size()
                        && c.get(c.indexOf("-pl") + 1).equals(module)),
        file + ": build stage runs mvn -pl " + module + " ... package");

    String jar = jarOf(module);
    List<Instruction> fromBuild =
        runtime.all("COPY").stream().filter(c -> c.flags().containsKey("from")).toList();
    assertEquals(1, fromBuild.size(), file + ": runtime copies one artifact from the build");
    Instruction copy = fromBuild.get(0);
    assertEquals(build.name().orElseThrow(), copy.flags().get("from"), file + ": COPY --from");
    assertEquals(
        List.of(workdir + "/" + module + "/target/" + jar, "/opt/metaleg/" + jar),
        copy.words(),
        file + ": runtime copies the jar the build writes");

    List<String> entrypoint = runtime.last("ENTRYPOINT").orElseThrow().execForm();
    assertEquals("java", entrypoint.get(0), file + ": ENTRYPOINT runs java");
    int dashJar = entrypoint.indexOf("-jar");
    assertEquals(
        List.of("-jar", copy.words().get(1)),
        entrypoint.subList(dashJar, entrypoint.size()),
        file + ": ENTRYPOINT ends in -jar <the copied jar>, " + entrypoint);
    assertEquals(Optional.empty(), runtime.last("CMD"), file + ": no CMD appends arguments");

    assertNotEquals(build.image(), runtime.image(), file + ": runtime has its own base image");
    assertTrue(runtime.image().endsWith("-jre"), file + ": runtime base is a JRE");
    for (Instruction run : runtime.all("RUN")) {
      for (List<String> c : run.commands()) {
        assertFalse(
            c.stream().anyMatch(w -> Set.of("mvn", "mvnw", "maven", "gradle").contains(w)),
            file + " line " + run.line() + ": no build tools in the runtime stage");
      }
    }
    assertTrue(
        runtime.all("LABEL").stream()
            .anyMatch(
                l -> !l.keyValues().getOrDefault("org.opencontainers.image.title", "").isBlank()),
        file + ": runtime has the OCI title label");
  }

  @Test
  void controllerImageRunsAsTheNonRootUserOfTheDeployment() {
    PodSpec pod = Manifests.controller().getSpec().getTemplate().getSpec();
    Stage runtime = read(CONTROLLER).runtime();
    String user = runtime.last("USER").orElseThrow(() -> new AssertionError("no USER")).args();
    assertTrue(user.matches("[1-9][0-9]*:[1-9][0-9]*"), "numeric non-root uid:gid, got " + user);
    assertEquals(
        pod.getSecurityContext().getRunAsUser() + ":" + pod.getSecurityContext().getRunAsGroup(),
        user,
        "the image's USER is the Deployment's runAsUser:runAsGroup");
    List<Instruction> all = runtime.instructions();
    assertEquals("ENTRYPOINT", all.get(all.size() - 1).keyword());
    assertTrue(
        all.indexOf(runtime.last("USER").orElseThrow())
            > all.indexOf(runtime.last("RUN").orElseThrow()),
        "USER comes after the last RUN, so only the build steps run as root");
  }

  @Test
  void controllerImageStartsFromTheClassArchiveItsRuntimeStageRecords() {
    Stage runtime = read(CONTROLLER).runtime();
    List<String> entrypoint = runtime.last("ENTRYPOINT").orElseThrow().execForm();
    String archive =
        entrypoint.stream()
            .filter(a -> a.startsWith("-XX:SharedArchiveFile="))
            .findFirst()
            .orElseThrow(() -> new AssertionError("ENTRYPOINT maps no archive: " + entrypoint))
            .substring("-XX:SharedArchiveFile=".length());
    String jar = entrypoint.get(entrypoint.indexOf("-jar") + 1);
    List<Instruction> all = runtime.instructions();
    Instruction copy = runtime.all("COPY").get(0);
    Instruction training =
        runtime.all("RUN").stream()
            .filter(
                r ->
                    r.commands().stream()
                        .anyMatch(c -> c.contains("-XX:ArchiveClassesAtExit=" + archive)))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no RUN records " + archive));
    assertTrue(
        training.commands().stream()
            .anyMatch(c -> c.contains("-XX:ArchiveClassesAtExit=" + archive) && c.contains(jar)),
        "the training run runs the jar the ENTRYPOINT runs: " + training.args());
    assertTrue(all.indexOf(training) > all.indexOf(copy), "training runs after the jar is copied");
  }

  @Test
  void agentImageRunsAsRootWithTheKernelTools() {
    Stage runtime = read(AGENT).runtime();
    assertEquals(Optional.empty(), runtime.last("USER"), "agent runs as root (no USER)");
    assertEquals(
        Long.valueOf(0),
        Manifests.agent()
            .getSpec()
            .getTemplate()
            .getSpec()
            .getContainers()
            .get(0)
            .getSecurityContext()
            .getRunAsUser(),
        "the DaemonSet says so too");
    Set<String> installed = new TreeSet<>();
    for (Instruction run : runtime.all("RUN")) {
      for (List<String> c : run.commands()) {
        int install = c.indexOf("install");
        if (c.get(0).equals("apt-get") && install > 0) {
          c.subList(install + 1, c.size()).stream()
              .filter(w -> !w.startsWith("-"))
              .forEach(installed::add);
        }
      }
    }
    for (String pkg : List.of("iptables", "ipset", "nftables", "iproute2", "conntrack")) {
      assertTrue(
          installed.contains(pkg),
          "agent runtime stage apt-get installs " + pkg + ": " + installed);
    }
  }

  @Test
  void bothImagesExposeTheDefaultPortsAndBakeInNoSetting() {
    Set<String> settings = new TreeSet<>(EnvTableTest.controllerDefaults().keySet());
    settings.addAll(EnvTableTest.agentDefaults().keySet());
    for (String file : List.of(CONTROLLER, AGENT)) {
      Stage runtime = read(file).runtime();
      Set<String> exposed =
          runtime.all("EXPOSE").stream()
              .flatMap(e -> e.words().stream())
              .collect(Collectors.toCollection(TreeSet::new));
      // METRICS_BIND_ADDRESS :21793, HEALTH_PROBE_BIND_ADDRESS :21794 (ManifestsTest)
      assertEquals(Set.of("21793", "21794"), exposed, file + ": EXPOSE");
      for (Instruction env : runtime.all("ENV")) {
        Set<String> baked = new TreeSet<>(env.keyValues().keySet());
        baked.retainAll(settings);
        assertEquals(
            Set.of(), baked, file + " line " + env.line() + ": settings come from config/");
      }
    }
  }

  private static List<String> modules() {
    List<String> out = new ArrayList<>();
    Matcher m =
        Pattern.compile("<module>([^<]+)</module>")
            .matcher(Manifests.read(ROOT.resolve("pom.xml")));
    while (m.find()) {
      out.add(m.group(1));
    }
    assertFalse(out.isEmpty(), "the root pom lists its modules");
    return out;
  }
}
