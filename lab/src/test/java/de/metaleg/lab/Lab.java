package de.metaleg.lab;

import static java.nio.file.StandardCopyOption.COPY_ATTRIBUTES;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The running lab: topology (lab-net.sh), the API server and the controller in the control-plane
 * namespace, one agent per node namespace, each a separate JVM started from the real jars. Logs go
 * to {@code lab/target/lab-logs/}. {@link #close()} stops every process it started and tears the
 * topology down.
 */
final class Lab implements AutoCloseable {
  static final String METALLB_NAMESPACE = "metallb-system";
  static final Path MODULE = Path.of("").toAbsolutePath();
  static final Path SCRIPTS = MODULE.resolve("scripts");
  static final Path LAB_NET = SCRIPTS.resolve("lab-net.sh");
  static final Path LOGS = MODULE.resolve("target/lab-logs");
  static final Path RUN = MODULE.resolve("target/lab-run");
  static final Path LAB_JAR = MODULE.resolve("target/metaleg-lab.jar");
  static final Path CONTROLLER_JAR =
      MODULE.resolveSibling("controller").resolve("target/metaleg-controller.jar");
  static final Path AGENT_JAR =
      MODULE.resolveSibling("node-agent").resolve("target/metaleg-node-agent.jar");
  static final List<String> JVM_FLAGS =
      List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");
  static final List<String> TOOLS =
      List.of("ip", "iptables", "ip6tables", "ipset", "nft", "python3", "java");

  /** Copies taken at start, so a concurrent rebuild cannot swap a jar under a running JVM. */
  static final Path CONTROLLER_COPY = RUN.resolve("metaleg-controller.jar");

  static final Path AGENT_COPY = RUN.resolve("metaleg-node-agent.jar");

  final LabPlan plan;

  /** Extra agent environment (e.g. FIREWALL_BACKEND), also used for --cleanup. */
  private final Map<String, String> agentEnv;

  private final LabProcesses processes = new LabProcesses(LOGS);
  private KubernetesClient client;
  private Thread shutdownHook;
  private boolean closed;

  private Lab(LabPlan plan, Map<String, String> agentEnv) {
    this.plan = plan;
    this.agentEnv = Map.copyOf(agentEnv);
  }

  /** Why the lab cannot run here, if it cannot. */
  static Optional<String> missingRequirement() {
    if (!"root".equals(System.getProperty("user.name"))) {
      return Optional.of(
          "the lab needs root (network namespaces); running as " + System.getProperty("user.name"));
    }
    List<String> missing = new ArrayList<>();
    for (String tool : TOOLS) {
      if (!Cmd.run("sh", "-c", "command -v " + tool).ok()) {
        missing.add(tool);
      }
    }
    if (!missing.isEmpty()) {
      return Optional.of("missing tools " + missing + " (scripts/test installs them as root)");
    }
    for (Path jar : List.of(CONTROLLER_JAR, AGENT_JAR)) {
      if (!Files.isRegularFile(jar)) {
        return Optional.of(jar + " not built (run the whole reactor: mvn -B verify)");
      }
    }
    return Optional.empty();
  }

  /** A further requirement of one suite: {@code tool} on the PATH. */
  static Optional<String> missingTool(String tool, String hint) {
    return Cmd.run("sh", "-c", "command -v " + tool).ok()
        ? Optional.empty()
        : Optional.of("missing tool " + tool + " (" + hint + ")");
  }

  /** For a benchmark's main: exits with 2 and says why when the lab cannot run here. */
  static void exitUnlessRunnable() {
    Optional<String> missing = missingRequirement();
    if (missing.isPresent()) {
      System.err.println("cannot run the lab: " + missing.get());
      System.exit(2);
    }
  }

  /** {@code dir} exists and holds no files (a run's logs start empty). */
  static void emptyDirectory(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      try (var old = Files.list(dir)) {
        for (Path f : old.toList()) {
          Files.delete(f);
        }
      }
    }
    Files.createDirectories(dir);
  }

  static Lab start(Map<String, String> agentEnv) throws IOException {
    Lab lab = startApiServerOnly(agentEnv);
    try {
      lab.startMetalEg();
      return lab;
    } catch (RuntimeException e) {
      lab.close();
      throw e;
    }
  }

  /** The controller and an agent per node (after {@link #startApiServerOnly}). */
  void startMetalEg() {
    startController();
    startAgents();
  }

  void startAgents() {
    for (LabPlan.Node node : plan.nodes()) {
      startAgent(node.name());
    }
  }

  /** The namespaces and the API server only: MetalEG is started by {@link #startMetalEg}. */
  static Lab startApiServerOnly(Map<String, String> agentEnv) throws IOException {
    emptyDirectory(LOGS);
    Files.createDirectories(RUN);
    Files.copy(
        CONTROLLER_JAR,
        CONTROLLER_COPY,
        REPLACE_EXISTING,
        COPY_ATTRIBUTES); // mtime kept: a CDS archive checks it
    Files.copy(AGENT_JAR, AGENT_COPY, REPLACE_EXISTING, COPY_ATTRIBUTES);
    Cmd.run(List.of("bash", LAB_NET.toString(), "up"), 60).orThrow();
    Lab lab = new Lab(LabPlan.load(LAB_NET), agentEnv);
    // An interrupted run (Ctrl-C, surefire timeout) must not leave namespaces or processes.
    Thread hook = new Thread(lab::close, "lab-teardown");
    Runtime.getRuntime().addShutdownHook(hook);
    lab.shutdownHook = hook;
    try {
      lab.startApiServer();
      return lab;
    } catch (RuntimeException | IOException e) {
      lab.close();
      throw e;
    }
  }

  KubernetesClient client() {
    return client;
  }

  /** The cluster fixtures on this lab's API server, with a Node object per lab node. */
  Cluster clusterWithNodes() {
    Cluster cluster = new Cluster(client, METALLB_NAMESPACE);
    for (LabPlan.Node n : plan.nodes()) {
      cluster.upsertNode(n.name(), n.ipv4(), n.ipv6());
    }
    return cluster;
  }

  Path kubeconfigLan() {
    return RUN.resolve("kubeconfig-lan.yaml");
  }

  Path kubeconfigHost() {
    return RUN.resolve("kubeconfig-host.yaml");
  }

  private void startApiServer() throws IOException {
    Files.deleteIfExists(kubeconfigHost());
    List<String> cmd = new ArrayList<>(List.of("java"));
    cmd.addAll(JVM_FLAGS);
    if (Files.isRegularFile(LAB_JAR)) {
      cmd.addAll(List.of("-jar", LAB_JAR.toString()));
    } else { // run from an IDE or the test phase: same classes from the test classpath
      cmd.addAll(
          List.of("-cp", System.getProperty("java.class.path"), ApiServerMain.class.getName()));
    }
    cmd.addAll(
        List.of(
            "--address",
            plan.cpIPv4(),
            "--port",
            Integer.toString(plan.apiPort()),
            "--kubeconfig",
            kubeconfigLan().toString(),
            "--kubeconfig",
            kubeconfigHost() + "=http://127.0.0.1:" + plan.apiHostPort()));
    start("api-server", plan.cpNs(), cmd, Map.of());
    Await.until(
        "the API server to write its kubeconfig",
        Duration.ofSeconds(60),
        () -> Files.exists(kubeconfigHost()) ? Optional.empty() : exitedOrWaiting("api-server"));
    client =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(kubeconfigHost())))
            .build();
    Await.until(
        "the API server through the host port forward",
        Duration.ofSeconds(30),
        () -> {
          client.namespaces().withName("default").get();
          return Optional.empty();
        });
  }

  void startController() {
    List<String> cmd = new ArrayList<>(List.of("java"));
    cmd.addAll(JVM_FLAGS);
    cmd.addAll(jvmFlags("lab.controllerJvmFlags", CONTROLLER_COPY, "controller"));
    cmd.addAll(List.of("-jar", CONTROLLER_COPY.toString()));
    start(
        "controller",
        plan.cpNs(),
        cmd,
        // No POD_NAMESPACE: one controller, no leader election (docs/controller.md).
        Map.of("KUBECONFIG", kubeconfigLan().toString()));
  }

  void startAgent(String node) {
    List<String> cmd = new ArrayList<>(List.of("java"));
    cmd.addAll(JVM_FLAGS);
    cmd.addAll(jvmFlags("lab.agentJvmFlags", AGENT_COPY, node));
    cmd.addAll(List.of("-jar", AGENT_COPY.toString()));
    Map<String, String> env = new LinkedHashMap<>(agentEnv);
    env.put("KUBECONFIG", kubeconfigLan().toString());
    env.put("NODE_NAME", node);
    start("agent-" + node, plan.node(node).ns(), cmd, env);
  }

  /** {@code python3 -u lab/scripts/<script> args...} inside {@code pod}'s namespace. */
  static List<String> inPod(LabPlan plan, String pod, String script, String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "ip",
                "netns",
                "exec",
                plan.pod(pod).ns(),
                "python3",
                "-u",
                SCRIPTS.resolve(script).toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** Class-data-sharing archives of the jars the lab runs, one per jar version. */
  static final Path CDS = MODULE.resolve("target/lab-cds");

  /**
   * The flags of {@link #extraFlags} when that property is set; otherwise an application CDS
   * archive for {@code jar}: used when one exists for this version of the jar (name, size and
   * mtime, which the JVM checks too), else written by this process at its exit and kept by {@link
   * #close} for the next start. Four JVMs starting at once on two cores spend most of a cold start
   * loading classes: the archives take the lab's cold start from ~10 s to ~6.4 s
   * (docs/benchmarks.md, "Lab cold start"). {@code -Dlab.cds=false} turns it off.
   */
  static List<String> jvmFlags(String property, Path jar, String name) {
    if (!System.getProperty(property, "").isBlank()) {
      return extraFlags(property, name);
    }
    if (!Boolean.parseBoolean(System.getProperty("lab.cds", "true"))) {
      return List.of();
    }
    return cdsFlags(CDS, jar, name);
  }

  /** The CDS flag for {@code jar}'s JVM {@code name}, archives in {@code dir}. */
  static List<String> cdsFlags(Path dir, Path jar, String name) {
    try {
      String key =
          jar.getFileName()
              + "-"
              + Files.size(jar)
              + "-"
              + Files.getLastModifiedTime(jar).toMillis();
      Path shared = dir.resolve(key + ".jsa");
      if (Files.isRegularFile(shared)) {
        return List.of("-XX:SharedArchiveFile=" + shared);
      }
      Files.createDirectories(dir);
      return List.of("-XX:ArchiveClassesAtExit=" + dir.resolve(key + "." + name + ".new"));
    } catch (IOException e) {
      return List.of(); // no archive: only slower
    }
  }

  /**
   * After the JVMs exited: of the archives written in {@code dir} for one jar version, one becomes
   * that version's archive (unless it has one), the others are deleted.
   */
  static void keepArchives(Path dir) {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (var files = Files.list(dir)) {
      for (Path f : files.sorted().toList()) {
        String n = f.getFileName().toString();
        if (!n.endsWith(".new")) {
          continue;
        }
        String key = n.substring(0, n.lastIndexOf('.', n.length() - ".new".length() - 1));
        Path shared = dir.resolve(key + ".jsa");
        if (!Files.exists(shared) && Files.size(f) > 0) {
          Files.move(f, shared, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } else {
          Files.delete(f);
        }
      }
    } catch (IOException e) {
      // an archive not kept is made again by the next start
    }
  }

  /**
   * Extra JVM flags for benchmarks (system property {@code name}, space-separated; {@code {name}}
   * becomes the node or "controller"), e.g. {@code -XX:SharedArchiveFile=...}. None by default.
   */
  static List<String> extraFlags(String property, String name) {
    String flags = System.getProperty(property, "").trim();
    return flags.isEmpty() ? List.of() : List.of(flags.replace("{name}", name).split("\\s+"));
  }

  /** SIGTERM, as a DaemonSet rollout would; the agent must leave its rules in place. */
  void stopAgent(String node) {
    processes.stop("agent-" + node);
  }

  /** SIGKILL, as an OOM kill or a node crash would: no shutdown hook, nothing cleaned up. */
  void killAgent(String node) {
    Process p = processes.remove("agent-" + node);
    if (p == null) {
      return;
    }
    p.destroyForcibly(); // `ip netns exec` execs java: this is the JVM's own pid
    try {
      p.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** {@code metaleg-node-agent --cleanup} in the node's namespace; returns its output. */
  Cmd.Result cleanup(String node) {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", plan.node(node).ns(), "env"));
    agentEnv.forEach((k, v) -> cmd.add(k + "=" + v));
    cmd.add("KUBECONFIG=" + kubeconfigLan());
    cmd.add("NODE_NAME=" + node);
    cmd.add("java");
    cmd.addAll(JVM_FLAGS);
    cmd.addAll(List.of("-jar", AGENT_COPY.toString(), "--cleanup"));
    Cmd.Result r = Cmd.run(cmd, 120);
    try {
      Files.writeString(LOGS.resolve("cleanup-" + node + ".log"), r.output());
    } catch (IOException e) {
      // the result carries the output anyway
    }
    return r;
  }

  /**
   * Fails at once (an Error, so {@link Await} does not keep polling) when a process the lab started
   * and did not stop has exited: a crashed controller or agent makes every later wait pointless.
   */
  void assertProcessesAlive() {
    processes.assertAlive();
  }

  private Optional<String> exitedOrWaiting(String name) {
    Process p = processes.get(name);
    if (p != null && !p.isAlive()) {
      throw new IllegalStateException(
          name + " exited with " + p.exitValue() + ": " + tail(LOGS.resolve(name + ".log"), 30));
    }
    return Optional.of("still starting");
  }

  private void start(String name, String ns, List<String> command, Map<String, String> env) {
    List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
    full.addAll(command);
    processes.start(name, full, env);
  }

  /** The last lines of every process log, for failure reports. */
  String logs(int lines) {
    StringBuilder sb = new StringBuilder();
    try (var files = Files.list(LOGS)) {
      for (Path log : files.sorted().toList()) {
        sb.append("\n===== ").append(log).append(" (last ").append(lines).append(" lines)\n");
        sb.append(tail(log, lines));
      }
    } catch (IOException e) {
      sb.append("cannot list ").append(LOGS).append(": ").append(e);
    }
    return sb.toString();
  }

  static String tail(Path file, int lines) {
    try {
      List<String> all = Files.readAllLines(file);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size())) + "\n";
    } catch (IOException e) {
      return "(cannot read " + file + ": " + e + ")\n";
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (shutdownHook != null && Thread.currentThread() != shutdownHook) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException e) {
        // already shutting down
      }
    }
    processes.stopAll();
    if (client != null) {
      client.close();
    }
    keepArchives(CDS);
    Cmd.run(List.of("bash", LAB_NET.toString(), "down"), 60);
  }
}
