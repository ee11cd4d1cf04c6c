package de.metaleg.lab;

import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.lab.Cluster.Endpoint;
import de.metaleg.lab.Cluster.ServiceRef;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * MetalEG's own share of programming a new endpoint (issue 12, item 3), a plain main: EndpointSlice
 * write → the kernel of every affected node programmed, both ends timestamped, no probe.
 *
 * <p>Set-up (its own topology, {@code lab/scripts/mlat-net.sh}: namespaces {@code mlat-*}, so it
 * can run next to the lab): the fabric8 CRUD mock API server in this JVM on 10.231.0.1 (host side
 * of the bridge), the real controller jar as a JVM in the host namespace, one real agent jar per
 * node namespace {@code mlat-node-N} (node-N, 10.231.0.1N). Service default/lat (dual-stack LB
 * 198.51.100.20 / 2001:db8:51::20), one endpoint pod per node, announced by node-2 (a
 * ServiceL2Status). Then per iteration a fresh pod IP on node-1 or node-3 (alternately) is appended
 * to the IPv4 EndpointSlice (one PUT); affected: that node (Forward: mark) and node-2 (Gateway:
 * SNAT). Timestamps, all wall-clock µs on this host:
 *
 * <ul>
 *   <li><b>t0</b>: right before the PUT is sent (also written as the slice's {@code
 *       endpoints.kubernetes.io/last-change-trigger-time}, so the controller's and the agents' SLI
 *       histograms measure from it); the PUT's return is printed too;
 *   <li><b>plan write</b>: the controller's "updated EgressPlan" log line (after its PUT returned,
 *       ms resolution), and the plan's MODIFIED event with the IP arriving at a watch in this JVM;
 *   <li><b>agent sync</b>: the agent's "incremental sync of generation G ... took T ms {steps}" log
 *       line (AgentLoop at debug), matched by the plan's generation: end = the line's time, start =
 *       end − T;
 *   <li><b>kernel</b>: {@link KernelWatch}: {@code nft monitor} (nftables backend, event-driven) or
 *       a polled {@code ipset -} (iptables backend, ~1 ms rounds) in each node namespace, both
 *       started before the first iteration.
 * </ul>
 *
 * Run from the lab module directory as root, after building the jars:
 *
 * <pre>
 * mvn -B -q -pl lab -am package -DskipTests
 * mvn -B -q -pl lab dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test
 * cd lab && flock /tmp/metaleg-kernel.lock java -cp target/test-classes:target/classes:$(cat target/bench.cp) \
 *     de.metaleg.lab.ProgrammingLatencyBenchmark [iterations, default 100] [iptables|nftables]
 * </pre>
 */
public final class ProgrammingLatencyBenchmark {
  static final Path NET = Lab.SCRIPTS.resolve("mlat-net.sh");
  static final Path LOGS = Lab.MODULE.resolve("target/mlat-logs");
  static final Path RUN = Lab.MODULE.resolve("target/mlat-run");
  static final String HOST_IPV4 = "10.231.0.1";
  static final int NODES = 3;
  static final String GATEWAY = "node-2";
  static final ServiceRef SVC = new ServiceRef("default", "lat");
  static final Duration TIMEOUT = Duration.ofSeconds(30);

  /** Iterations run first and left out of the statistics (JIT warm-up of every JVM). */
  static final int WARMUP = Integer.getInteger("bench.warmup", 20);

  /**
   * Controller loggers set to debug (comma-separated), e.g. JOSDK's event processing; off for the
   * numbers, logging costs time.
   */
  /** The agent jar to run (default: the node-agent module's), e.g. to compare two builds. */
  static final Path AGENT_JAR =
      Path.of(System.getProperty("bench.agentJar", Lab.AGENT_JAR.toString()));

  static final String CONTROLLER_DEBUG = System.getProperty("bench.controllerDebug", "");

  /** Held so the JUL configuration is not garbage collected (the mock logs every request). */
  private static final java.util.logging.Logger MOCK_LOG =
      java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

  /** One iteration: the new pod IP, where it runs, and the timestamps taken in this JVM. */
  static final class Sample {
    final int n;
    final String ip;
    final String podNode;
    long t0;
    long putReturned;
    volatile long sliceEvent;
    final Map<String, PlanSeen> plans = new ConcurrentHashMap<>();
    final Map<String, Long> kernel = new ConcurrentHashMap<>();

    Sample(int n, String ip, String podNode) {
      this.n = n;
      this.ip = ip;
      this.podNode = podNode;
    }

    List<String> affected() {
      return List.of(podNode, GATEWAY);
    }
  }

  record PlanSeen(long at, long generation) {}

  /** An agent's sync log line: its end (log time), duration and steps. */
  record AgentSync(long end, long tookMs, Map<String, Long> steps) {}

  private final String backend;
  private final LabProcesses processes = new LabProcesses(LOGS);
  private final Map<String, Sample> awaiting = new ConcurrentHashMap<>();
  private LocalApiServer api;
  private KubernetesClient client;
  private int controllerMetricsPort;

  ProgrammingLatencyBenchmark(String backend) {
    this.backend = backend;
  }

  public static void main(String[] args) throws Exception {
    int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 100;
    String backend = args.length > 1 ? args[1] : "iptables";
    Lab.exitUnlessRunnable();
    ProgrammingLatencyBenchmark b = new ProgrammingLatencyBenchmark(backend);
    Thread hook = new Thread(b::close, "mlat-teardown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      b.start();
      b.run(iterations);
    } finally {
      b.close();
      Runtime.getRuntime().removeShutdownHook(hook);
    }
    System.exit(0);
  }

  void start() throws IOException {
    Lab.emptyDirectory(LOGS);
    Files.createDirectories(RUN);
    Path controllerJar = RUN.resolve("metaleg-controller.jar");
    Path agentJar = RUN.resolve("metaleg-node-agent.jar");
    Files.copy(Lab.CONTROLLER_JAR, controllerJar, StandardCopyOption.REPLACE_EXISTING);
    Files.copy(AGENT_JAR, agentJar, StandardCopyOption.REPLACE_EXISTING);
    Cmd.run(List.of("bash", NET.toString(), "up", Integer.toString(NODES)), 60).orThrow();

    MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
    api = LocalApiServer.start(InetAddress.getByName(HOST_IPV4), 0);
    Path kubeconfig = RUN.resolve("kubeconfig.yaml");
    Files.writeString(kubeconfig, Kubeconfig.render(api.uri()));
    client =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
            .build();

    controllerMetricsPort = freePort();
    List<String> controller = new ArrayList<>(List.of("java"));
    controller.addAll(Lab.JVM_FLAGS);
    for (String logger : CONTROLLER_DEBUG.split(",")) {
      if (!logger.isBlank()) {
        controller.add("-Dorg.slf4j.simpleLogger.log." + logger.trim() + "=debug");
      }
    }
    controller.addAll(List.of("-jar", controllerJar.toString()));
    processes.start(
        "controller",
        controller,
        Map.of(
            "KUBECONFIG",
            kubeconfig.toString(),
            "METRICS_BIND_ADDRESS",
            "127.0.0.1:" + controllerMetricsPort,
            "HEALTH_PROBE_BIND_ADDRESS",
            "0"));
    for (int i = 1; i <= NODES; i++) {
      List<String> agent =
          new ArrayList<>(List.of("ip", "netns", "exec", "mlat-node-" + i, "java"));
      agent.addAll(Lab.JVM_FLAGS);
      agent.add("-Dorg.slf4j.simpleLogger.log.de.metaleg.agent.loop.AgentLoop=debug");
      agent.addAll(List.of("-jar", agentJar.toString()));
      processes.start(
          "agent-node-" + i,
          agent,
          Map.of(
              "KUBECONFIG",
              kubeconfig.toString(),
              "NODE_NAME",
              "node-" + i,
              "FIREWALL_BACKEND",
              backend));
    }
  }

  void run(int iterations) throws Exception {
    List<String> nodes = new ArrayList<>();
    Cluster cluster = new Cluster(client, Lab.METALLB_NAMESPACE);
    for (int i = 1; i <= NODES; i++) {
      nodes.add("node-" + i);
      cluster.upsertNode("node-" + i, "10.231.0.1" + i, "fd31::1" + i);
    }
    List<Endpoint> endpoints = new ArrayList<>();
    for (int i = 1; i <= NODES; i++) {
      endpoints.add(new Endpoint("lat-" + i, "node-" + i, "10.244." + i + ".10", "fd44::" + i));
    }
    cluster.createService(SVC, true, "198.51.100.20", "2001:db8:51::20", endpoints);
    cluster.createL2Status(SVC, GATEWAY);
    Await.until(
        "every plan Ready",
        TIMEOUT.multipliedBy(4),
        () -> {
          processes.assertAlive();
          String wrong = PlanTable.notReady(cluster.plans(), nodes);
          return wrong.isEmpty() ? Optional.empty() : Optional.of(wrong);
        });

    Map<String, KernelWatch> kernels = new LinkedHashMap<>();
    for (int i = 1; i <= NODES; i++) {
      String ns = "mlat-node-" + i;
      kernels.put(
          "node-" + i,
          backend.equals("nftables")
              ? new KernelWatch.Nft(ns)
              : new KernelWatch.Ipset(ns, sourceSet(ns)));
    }
    Watch planWatch = client.resources(EgressPlan.class).watch(new PlanWatcher());
    Watch sliceWatch =
        client
            .discovery()
            .v1()
            .endpointSlices()
            .inNamespace(SVC.namespace())
            .watch(new SliceWatcher());
    Thread.sleep(500); // the monitors and the watch are established

    List<Sample> samples = new ArrayList<>();
    Map<String, double[]> slisBefore = Map.of();
    for (int n = 1; n <= WARMUP + iterations; n++) {
      String podNode = n % 2 == 1 ? "node-1" : "node-3";
      int k = (n + 1) / 2;
      String ip = "10.244." + ((podNode.charAt(5) - '0') * 10 + k / 200) + "." + (10 + k % 200);
      Sample s = new Sample(n, ip, podNode);
      endpoints.add(new Endpoint("lat-new-" + n, podNode, ip, null));
      Map<String, CompletableFuture<Long>> done = new LinkedHashMap<>();
      for (String node : s.affected()) {
        done.put(node, kernels.get(node).await(ip, node.equals(GATEWAY)));
      }
      awaiting.put(ip, s);
      EndpointSlice slice = Cluster.endpointSlice(SVC, "IPv4", endpoints);
      if (n == WARMUP + 1) {
        slisBefore = scrapeSlis();
      }
      s.t0 = KernelWatch.nowMicros();
      slice
          .getMetadata()
          .setAnnotations(
              Map.of(TriggerTime.ANNOTATION, TriggerTime.format(s.t0))); // the slice's trigger
      client.resource(slice).update();
      s.putReturned = KernelWatch.nowMicros();
      for (var e : done.entrySet()) {
        s.kernel.put(e.getKey(), e.getValue().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
      }
      awaiting.remove(ip);
      if (n > WARMUP) {
        samples.add(s);
      }
      System.out.printf(
          "%3d %s%s %-14s on %s: every affected node %6.1f ms (%s)%n",
          n,
          TriggerTime.format(s.t0).substring(11),
          n > WARMUP ? "" : " (warm-up)",
          ip,
          podNode,
          ms(total(s)),
          String.join(
              ", ",
              s.affected().stream()
                  .map(node -> node + " " + String.format("%.1f", ms(s.kernel.get(node) - s.t0)))
                  .toList()));
      Thread.sleep(100 + ThreadLocalRandom.current().nextInt(100));
    }
    Thread.sleep(200); // the last log lines are written
    planWatch.close();
    sliceWatch.close();
    kernels.values().forEach(KernelWatch::close);
    report(samples, slisBefore, scrapeSlis());
  }

  /** The slice's trigger-time annotation (what the endpointslice controller writes). */
  static final class TriggerTime {
    static final String ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time";

    static String format(long micros) {
      return Instant.ofEpochSecond(micros / 1_000_000, (micros % 1_000_000) * 1_000).toString();
    }
  }

  /** The slice event's arrival at a watch here: what the controller's informer gets, roughly. */
  private final class SliceWatcher implements Watcher<EndpointSlice> {
    @Override
    public void eventReceived(Action action, EndpointSlice slice) {
      long t = KernelWatch.nowMicros();
      for (var e : slice.getEndpoints()) {
        for (String ip : e.getAddresses()) {
          Sample s = awaiting.get(ip);
          if (s != null && s.sliceEvent == 0) {
            s.sliceEvent = t;
          }
        }
      }
    }

    @Override
    public void onClose(WatcherException cause) {}
  }

  private final class PlanWatcher implements Watcher<EgressPlan> {
    @Override
    public void eventReceived(Action action, EgressPlan plan) {
      long t = KernelWatch.nowMicros();
      if (action != Action.MODIFIED && action != Action.ADDED || plan.getSpec() == null) {
        return;
      }
      String node = plan.getMetadata().getName();
      for (EgressEntry e : plan.getSpec().getEntries()) {
        for (String ip : e.getSourceIPv4s()) {
          Sample s = awaiting.get(ip);
          if (s != null) {
            s.plans.putIfAbsent(node, new PlanSeen(t, plan.getMetadata().getGeneration()));
          }
        }
      }
    }

    @Override
    public void onClose(WatcherException cause) {}
  }

  void report(List<Sample> samples, Map<String, double[]> before, Map<String, double[]> after)
      throws IOException {
    Map<String, Map<Long, AgentSync>> syncs = new LinkedHashMap<>();
    for (int i = 1; i <= NODES; i++) {
      syncs.put(
          "node-" + i, agentSyncs(Files.readAllLines(LOGS.resolve("agent-node-" + i + ".log"))));
    }
    Map<String, List<Long>> writes =
        controllerWrites(Files.readAllLines(LOGS.resolve("controller.log")));

    List<Long> totals = new ArrayList<>();
    List<Long> put = new ArrayList<>();
    List<Long> toSliceEvent = new ArrayList<>();
    List<Long> toWrite = new ArrayList<>();
    List<Long> toPlanEvent = new ArrayList<>();
    List<Long> toSyncStart = new ArrayList<>();
    List<Long> took = new ArrayList<>();
    List<Long> syncEndToKernel = new ArrayList<>();
    List<Long> toKernel = new ArrayList<>();
    Map<String, List<Long>> steps = new TreeMap<>();
    int unmatched = 0;
    for (Sample s : samples) {
      totals.add(total(s));
      put.add(s.putReturned - s.t0);
      if (s.sliceEvent != 0) {
        toSliceEvent.add(s.sliceEvent - s.t0);
      }
      for (String node : s.affected()) {
        toKernel.add(s.kernel.get(node) - s.t0);
        PlanSeen plan = s.plans.get(node);
        if (plan == null) {
          unmatched++;
          continue;
        }
        toPlanEvent.add(plan.at() - s.t0);
        // the controller's log line for this write: the first for the node at or after t0 (ms)
        writes.getOrDefault(node, List.of()).stream()
            .filter(t -> t >= s.t0 / 1_000 * 1_000)
            .findFirst()
            .ifPresent(t -> toWrite.add(t - s.t0));
        AgentSync sync = syncs.get(node).get(plan.generation());
        if (sync == null) {
          unmatched++;
          continue;
        }
        long start = sync.end() - sync.tookMs() * 1_000;
        toSyncStart.add(start - plan.at());
        took.add(sync.tookMs() * 1_000);
        syncEndToKernel.add(s.kernel.get(node) - sync.end());
        sync.steps().forEach((k, v) -> steps.computeIfAbsent(k, x -> new ArrayList<>()).add(v));
      }
    }
    double load = loadAverage();
    System.out.printf(
        "%nFIREWALL_BACKEND=%s, %d iterations after %d warm-up, %d nodes, %s, load average %.2f%n",
        backend, samples.size(), WARMUP, NODES, Instant.now(), load);
    System.out.println("(ms; nearest-rank percentiles; per affected node unless \"every\")");
    row("EndpointSlice PUT sent -> kernel programmed on every affected node", totals);
    row("  PUT sent -> PUT returned", put);
    row("  PUT sent -> slice MODIFIED event at a watch in the benchmark JVM", toSliceEvent);
    row("  PUT sent -> controller logs \"updated EgressPlan\" (ms-resolution log)", toWrite);
    row("  PUT sent -> plan MODIFIED event at a watch in the benchmark JVM", toPlanEvent);
    row("  plan event here -> agent sync starts (log time - took)", toSyncStart);
    row("  agent sync took (ms resolution)", took);
    row(
        "  agent sync logged -> kernel seen programmed (negative: before the log)",
        syncEndToKernel);
    row("  PUT sent -> kernel programmed on the node", toKernel);
    steps.forEach((k, v) -> row("    agent step " + k, v.stream().map(x -> x * 1_000).toList()));
    if (unmatched > 0) {
      System.out.println("  (" + unmatched + " node samples without a plan event or sync line)");
    }
    before.forEach(
        (name, b) -> {
          double[] a = after.get(name);
          if (a != null && a[1] > b[1]) {
            System.out.printf(
                "  SLI %-60s mean %.1f ms over %d%n",
                name, (a[0] - b[0]) / (a[1] - b[1]) * 1_000, (long) (a[1] - b[1]));
          }
        });
  }

  /** Agent sync log lines by generation (AgentLoop, debug or info). */
  static Map<Long, AgentSync> agentSyncs(List<String> lines) {
    Pattern p =
        Pattern.compile(
            "^(\\S+) .*(?:incremental|full) sync of generation (\\d+): .*took (\\d+) ms \\{(.*)\\}$");
    Map<Long, AgentSync> out = new LinkedHashMap<>();
    for (String line : lines) {
      Matcher m = p.matcher(line);
      if (m.matches()) {
        Map<String, Long> steps = new LinkedHashMap<>();
        for (String kv : m.group(4).split(",\\s*")) {
          String[] parts = kv.split("=", 2);
          if (parts.length == 2) {
            steps.put(parts[0].trim(), Long.parseLong(parts[1].trim()));
          }
        }
        out.putIfAbsent(
            Long.parseLong(m.group(2)),
            new AgentSync(micros(m.group(1)), Long.parseLong(m.group(3)), steps));
      }
    }
    return out;
  }

  /** The controller's "updated EgressPlan NODE" log times, per node, in order. */
  static Map<String, List<Long>> controllerWrites(List<String> lines) {
    Pattern p = Pattern.compile("^(\\S+) .*updated EgressPlan (\\S+) \\(.*$");
    Map<String, List<Long>> out = new LinkedHashMap<>();
    for (String line : lines) {
      Matcher m = p.matcher(line);
      if (m.matches()) {
        out.computeIfAbsent(m.group(2), k -> new ArrayList<>()).add(micros(m.group(1)));
      }
    }
    return out;
  }

  static long micros(String isoTime) {
    Instant i = OffsetDateTime.parse(isoTime).toInstant();
    return i.getEpochSecond() * 1_000_000 + i.getNano() / 1_000;
  }

  static long total(Sample s) {
    return s.affected().stream().mapToLong(s.kernel::get).max().orElseThrow() - s.t0;
  }

  static double ms(long micros) {
    return micros / 1_000.0;
  }

  static void row(String what, List<Long> micros) {
    if (micros.isEmpty()) {
      System.out.printf("  %-78s (none)%n", what);
      return;
    }
    List<Long> s = micros.stream().sorted().toList();
    Function<Integer, String> p = q -> String.format("%7.1f", ms(s.get(rank(s.size(), q))));
    System.out.printf(
        "%-80s n=%3d p50 %s p90 %s p99 %s max %s%n",
        what, s.size(), p.apply(50), p.apply(90), p.apply(99), p.apply(100));
  }

  static int rank(int size, int p) {
    return Math.max(0, (int) Math.ceil(p / 100.0 * size) - 1);
  }

  /** The SLI histograms' sum and count: each agent's, the controller's share. */
  Map<String, double[]> scrapeSlis() {
    Map<String, double[]> out = new LinkedHashMap<>();
    for (int i = 1; i <= NODES; i++) {
      scrape(
          out,
          "node-" + i,
          "http://10.231.0.1" + i + ":21793/metrics",
          "metaleg_network_programming_duration_seconds");
    }
    scrape(
        out,
        "controller",
        "http://127.0.0.1:" + controllerMetricsPort + "/metrics",
        "metaleg_controller_programming_duration_seconds");
    return out;
  }

  private static void scrape(Map<String, double[]> out, String who, String url, String metric) {
    try {
      String body =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      double sum = 0;
      double count = 0;
      for (String line : body.split("\n")) {
        if (line.startsWith(metric + "_sum")) {
          sum = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        } else if (line.startsWith(metric + "_count")) {
          count = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
      }
      out.put(who + " " + metric, new double[] {sum, count});
    } catch (IOException | RuntimeException e) {
      System.out.println("  (cannot scrape " + url + ": " + e + ")");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The Service's IPv4 source set in the node's kernel (iptables backend). */
  private static String sourceSet(String ns) {
    String names = Cmd.inNs(ns, "ipset", "list", "-n").orThrow().output();
    return names
        .lines()
        .filter(l -> l.startsWith("metaleg-src4-"))
        .findFirst()
        .orElseThrow(() -> new IllegalStateException("no metaleg-src4-* set in " + ns));
  }

  private static double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    } catch (IOException e) {
      return Double.NaN;
    }
  }

  private static int freePort() throws IOException {
    try (var s = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  synchronized void close() {
    processes.stopAll();
    if (client != null) {
      client.close();
      client = null;
    }
    if (api != null) {
      api.close();
      api = null;
    }
    Cmd.run(List.of("bash", NET.toString(), "down"), 60);
  }
}
