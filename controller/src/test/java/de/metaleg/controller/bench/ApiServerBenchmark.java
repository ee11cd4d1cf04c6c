package de.metaleg.controller.bench;

import de.metaleg.api.metallb.ServiceL2Status;
import de.metaleg.api.metallb.ServiceL2StatusStatus;
import de.metaleg.api.v1alpha1.EgressEntry;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.controller.Controller;
import de.metaleg.controller.ControllerConfig;
import de.metaleg.controller.k8s.PlanWriter;
import de.metaleg.testing.CrudApiServer;
import de.metaleg.testing.Upserts;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServiceStatusBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * End-to-end controller benchmark (not a test): fabric8's mock API server in CRUD mode holds 100
 * dual-stack nodes and 1,000 labelled LoadBalancer Services with one EndpointSlice (10 IPv4 pods on
 * random nodes) and one ServiceL2Status each. The real {@link Controller} runs against it; a second
 * client watches the EgressPlans. Prints the time until all plans are written, then p50 / p99 / min
 * / max over the repetitions of: an EndpointSlice gaining a pod IP until every affected plan
 * carries it, and a MetalLB failover (ServiceL2Status deleted, a new one created naming another
 * node) until every affected plan names the new gateway. Also the heap the controller retains. Run
 * from the repository root:
 *
 * <pre>
 * mvn -q -pl controller -am test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.cp \
 *     -Dmdep.includeScope=test
 * java -Xmx1g -cp controller/target/test-classes:controller/target/classes:$(cat controller/target/bench.cp) \
 *     de.metaleg.controller.bench.ApiServerBenchmark [repetitions]
 * </pre>
 *
 * <p>Sizes: {@code -Dbench.nodes=100 -Dbench.services=1000}. Start-up mode instead of the latency
 * runs: {@code -Dbench.controllerCommand="java -jar controller/target/metaleg-controller.jar;;..."}
 * spawns each command as its own JVM (see {@link #startProcess}); {@code -Dbench.mockFloor=true}
 * then times the mock alone ({@link #mockFloor}). The cluster is stored straight into the mock
 * ({@link MockStore}), so 1,000 nodes / 10,000 Services take seconds, not minutes.
 */
public final class ApiServerBenchmark {
  static final int NODES = Integer.getInteger("bench.nodes", 100);
  static final int SERVICES = Integer.getInteger("bench.services", 1_000);
  static final int ENDPOINTS = 10;
  static final String NS = "app";
  static final String METALLB = "metallb-system";

  private final Random random = new Random(7);
  private final KubernetesMockServer server;
  private final KubernetesClient admin;
  private final KubernetesClient observer;

  /** Per service: pod IP to node, and the announcing node. */
  private final Map<String, Map<String, String>> pods = new HashMap<>();

  private final Map<String, String> gateway = new HashMap<>();
  private final Map<String, Integer> l2Generation = new HashMap<>();
  private final Map<String, EgressPlan> plans = new ConcurrentHashMap<>();
  private volatile Waiter waiter;
  private Controller controller;
  private int nextPod = 1;

  /** Time the failover's three API requests (delete, create, status update) took themselves. */
  private final List<Long> failoverRequests = new ArrayList<>();

  /** Completes with the event time once every named plan satisfies its predicate. */
  private record Waiter(
      Map<String, Predicate<EgressPlan>> expected, CompletableFuture<Long> done) {}

  ApiServerBenchmark() throws Exception {
    server = CrudApiServer.start("default", "metallb-system");
    admin = server.createClient();
    observer = server.createClient();
  }

  /** Held so the level sticks: java.util.logging keeps loggers weakly. */
  private static final java.util.logging.Logger MOCK_LOG =
      java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

  public static void main(String[] args) throws Exception {
    // Per-request and per-write INFO lines would dominate the output (and the CPU).
    MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    int repetitions = args.length > 0 ? Integer.parseInt(args[0]) : 30;
    try {
      ApiServerBenchmark b = new ApiServerBenchmark();
      long t0 = System.nanoTime();
      b.populate();
      System.out.printf(
          "populated %d nodes, %d services x %d endpoints in %d ms%n",
          NODES, SERVICES, ENDPOINTS, ms(System.nanoTime() - t0));
      String commands = System.getProperty("bench.controllerCommand");
      if (commands != null) {
        SharedIndexInformer<EgressPlan> informer =
            b.observer.resources(EgressPlan.class).inform(b.planHandler());
        for (String command : commands.split(";;")) {
          b.startProcess(command);
        }
        if (Boolean.getBoolean("bench.mockFloor")) {
          b.mockFloor();
        }
        informer.close();
      } else {
        b.run(repetitions);
      }
    } catch (Throwable e) {
      e.printStackTrace();
      System.exit(1); // the mock server's threads are not daemons: they would keep the JVM up
    }
    System.exit(0);
  }

  void run(int repetitions) throws Exception {
    SharedIndexInformer<EgressPlan> informer =
        observer.resources(EgressPlan.class).inform(planHandler());
    long heapBefore = heapAfterGc();
    controller =
        new Controller(
            ControllerConfig.fromEnv(
                Map.of(
                    "METRICS_BIND_ADDRESS", "0",
                    "HEALTH_PROBE_BIND_ADDRESS", "0",
                    "RECONCILIATION_INTERVAL", "1h")),
            server.createClient(),
            new SimpleMeterRegistry(),
            PlanWriter.MAX_PLAN_BYTES,
            () -> {});
    long start = System.nanoTime();
    CompletableFuture<Long> all = expect(allPlans());
    controller.start();
    long allWritten = await(all, 120);
    System.out.printf(
        "controller start to all %d plans written: %d ms (%d entries)%n",
        plans.size(),
        ms(allWritten - start),
        plans.values().stream().mapToInt(p -> p.getSpec().getEntries().size()).sum());

    warmUp(5);
    failoverRequests.clear();
    List<Long> endpoint = new ArrayList<>();
    List<Long> failover = new ArrayList<>();
    for (int i = 0; i < repetitions; i++) {
      endpoint.add(newPod(service(random.nextInt(SERVICES))));
      failover.add(failover(service(random.nextInt(SERVICES))));
    }
    print("EndpointSlice +1 pod IP -> affected plans written", endpoint);
    print("ServiceL2Status delete+create -> affected plans written", failover);
    print("  of which the delete, create and status update requests", failoverRequests);
    long heapWith = heapAfterGc();
    controller.close();
    controller = null;
    long heapAfter = heapAfterGc();
    System.out.printf(
        "heap used after GC: %d MiB before the controller started, %d MiB with it running"
            + " (includes the plans in the mock server and the observer); %d MiB freed when it"
            + " stopped (the controller's own heap)%n",
        heapBefore >> 20, heapWith >> 20, (heapWith - heapAfter) >> 20);
    informer.close();
  }

  /**
   * Start-up as a pod sees it: spawns {@code command} (e.g. {@code java -jar
   * controller/target/metaleg-controller.jar}) with KUBECONFIG at the mock server and prints the
   * time from spawning the JVM to all plans written. The child's output goes to
   * target/bench-controller.log; it is stopped with SIGTERM (so an -XX:ArchiveClassesAtExit run
   * writes its archive).
   */
  void startProcess(String command) throws Exception {
    // a clean slate: the JVM under test creates every plan
    admin.resources(EgressPlan.class).delete();
    while (!plans.isEmpty()) {
      Thread.sleep(50);
    }
    Path kubeconfig = Files.createTempFile("bench-kubeconfig", ".yaml");
    Files.writeString(
        kubeconfig,
        String.join(
            "\n",
            "apiVersion: v1",
            "kind: Config",
            "clusters: [{name: mock, cluster: {server: '"
                + admin.getConfiguration().getMasterUrl()
                + "'}}]",
            "users: [{name: mock, user: {token: bench}}]",
            "contexts: [{name: mock, context: {cluster: mock, user: mock}}]",
            "current-context: mock",
            ""));
    CompletableFuture<Long> all = expect(allPlans());
    ProcessBuilder pb = new ProcessBuilder(command.trim().split("\\s+"));
    pb.environment().put("KUBECONFIG", kubeconfig.toString());
    pb.environment().put("METRICS_BIND_ADDRESS", "0");
    pb.environment().put("HEALTH_PROBE_BIND_ADDRESS", "0");
    pb.environment().put("RECONCILIATION_INTERVAL", "1h");
    pb.redirectErrorStream(true)
        .redirectOutput(
            ProcessBuilder.Redirect.appendTo(Path.of("target/bench-controller.log").toFile()));
    long start = System.nanoTime();
    Process child = pb.start();
    try {
      long allWritten = await(all, 300);
      System.out.printf(
          "%s: controller JVM start to all %d plans written: %d ms (%d entries), controller CPU"
              + " %d ms, load average %s%n",
          command.trim(),
          plans.size(),
          ms(allWritten - start),
          plans.values().stream().mapToInt(p -> p.getSpec().getEntries().size()).sum(),
          cpuMillis(child.pid()),
          loadAverage());
    } finally {
      child.destroy();
      child.waitFor(60, TimeUnit.SECONDS);
      Files.deleteIfExists(kubeconfig);
    }
  }

  /**
   * What the mock itself needs for the start-up's requests, without a controller: one list of each
   * input type, then the plans the last run wrote deleted and created again one after another by a
   * plain client (the observer's informer still watches, as during the runs).
   */
  void mockFloor() throws Exception {
    long t = System.nanoTime();
    int nodes = admin.nodes().list().getItems().size();
    long tNodes = System.nanoTime();
    int services = admin.services().inAnyNamespace().list().getItems().size();
    long tServices = System.nanoTime();
    int slices = admin.discovery().v1().endpointSlices().inAnyNamespace().list().getItems().size();
    long tSlices = System.nanoTime();
    int l2 = admin.resources(ServiceL2Status.class).inAnyNamespace().list().getItems().size();
    long tL2 = System.nanoTime();
    System.out.printf(
        "mock floor: list %d nodes %d ms, %d services %d ms, %d EndpointSlices %d ms,"
            + " %d ServiceL2Statuses %d ms%n",
        nodes,
        ms(tNodes - t),
        services,
        ms(tServices - tNodes),
        slices,
        ms(tSlices - tServices),
        l2,
        ms(tL2 - tSlices));
    List<EgressPlan> written = new ArrayList<>(plans.values());
    admin.resources(EgressPlan.class).delete();
    while (!plans.isEmpty()) {
      Thread.sleep(50);
    }
    t = System.nanoTime();
    for (EgressPlan p : written) {
      p.getMetadata().setResourceVersion(null);
      p.getMetadata().setUid(null);
      p.getMetadata().setCreationTimestamp(null);
      p.getMetadata().setManagedFields(null);
      p.setStatus(null);
      admin.resource(p).create();
    }
    System.out.printf(
        "mock floor: %d plans created one after another by a plain client: %d ms%n",
        written.size(), ms(System.nanoTime() - t));
  }

  private void warmUp(int n) throws Exception {
    for (int i = 0; i < n; i++) {
      newPod(service(random.nextInt(SERVICES)));
      failover(service(random.nextInt(SERVICES)));
    }
  }

  /** Adds one pod IP on a random node to the service's slice; returns nanos to plans written. */
  long newPod(String svc) throws Exception {
    String ip = podIP(nextPod++);
    String node = node(random.nextInt(NODES));
    pods.get(svc).put(ip, node);
    Predicate<EgressPlan> hasIp =
        p -> entries(p, svc).stream().anyMatch(e -> e.getSourceIPv4s().contains(ip));
    CompletableFuture<Long> done = expect(Map.of(node, hasIp, gateway.get(svc), hasIp));
    long t = System.nanoTime();
    admin.resource(slice(svc)).update();
    return done.get(60, TimeUnit.SECONDS) - t;
  }

  /** Moves the service's announcer to another node; returns nanos to all plans written. */
  long failover(String svc) throws Exception {
    String old = gateway.get(svc);
    String next;
    do {
      next = node(random.nextInt(NODES));
    } while (next.equals(old));
    String to = next;
    Map<String, Predicate<EgressPlan>> expected = new HashMap<>();
    Set<String> endpointNodes = new HashSet<>(pods.get(svc).values());
    Set<String> sources = pods.get(svc).keySet();
    expected.put(
        to,
        p ->
            entries(p, svc).stream()
                .anyMatch(
                    e -> e.getRole().equals("Gateway") && e.getSourceIPv4s().containsAll(sources)));
    for (String n : endpointNodes) {
      if (!n.equals(to)) {
        expected.put(
            n,
            p ->
                entries(p, svc).stream()
                    .anyMatch(e -> e.getRole().equals("Forward") && to.equals(e.getGatewayNode())));
      }
    }
    if (!endpointNodes.contains(old)) {
      expected.put(old, p -> entries(p, svc).isEmpty());
    }
    CompletableFuture<Long> done = expect(expected);
    long t = System.nanoTime();
    admin.resources(ServiceL2Status.class).inNamespace(METALLB).withName(l2Name(svc)).delete();
    l2Generation.merge(svc, 1, Integer::sum);
    announce(svc, to);
    failoverRequests.add(System.nanoTime() - t);
    return done.get(60, TimeUnit.SECONDS) - t;
  }

  /** Every node's plan lists exactly the services with a pod or the announcer on that node. */
  private Map<String, Predicate<EgressPlan>> allPlans() {
    Map<String, Set<String>> services = new HashMap<>();
    for (int n = 0; n < NODES; n++) {
      services.put(node(n), new HashSet<>());
    }
    pods.forEach((svc, ipToNode) -> ipToNode.values().forEach(n -> services.get(n).add(svc)));
    gateway.forEach((svc, n) -> services.get(n).add(svc));
    Map<String, Predicate<EgressPlan>> expected = new HashMap<>();
    services.forEach(
        (node, svcs) ->
            expected.put(
                node,
                p ->
                    p.getSpec().getEntries().stream()
                        .map(e -> e.getService().substring(NS.length() + 1))
                        .collect(java.util.stream.Collectors.toSet())
                        .equals(svcs)));
    return expected;
  }

  /** The waiter's event time; on a timeout, says how many plans were seen and which are wrong. */
  private long await(CompletableFuture<Long> done, int seconds) throws Exception {
    try {
      return done.get(seconds, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      Waiter w = waiter;
      List<String> wrong =
          w.expected().entrySet().stream()
              .filter(
                  x -> plans.get(x.getKey()) == null || !x.getValue().test(plans.get(x.getKey())))
              .map(Map.Entry::getKey)
              .limit(5)
              .toList();
      throw new IllegalStateException(
          "timed out after " + seconds + " s: " + plans.size() + " plans seen, wrong: " + wrong, e);
    }
  }

  private CompletableFuture<Long> expect(Map<String, Predicate<EgressPlan>> expected) {
    Waiter w = new Waiter(expected, new CompletableFuture<>());
    waiter = w;
    check(w);
    return w.done();
  }

  private void check(Waiter w) {
    if (w == null || w.done().isDone()) {
      return;
    }
    for (var e : w.expected().entrySet()) {
      EgressPlan p = plans.get(e.getKey());
      if (p == null || p.getSpec() == null || !e.getValue().test(p)) {
        return;
      }
    }
    w.done().complete(System.nanoTime());
  }

  private ResourceEventHandler<EgressPlan> planHandler() {
    return Upserts.handler(
        p -> {
          plans.put(p.getMetadata().getName(), p);
          check(waiter);
        },
        p -> plans.remove(p.getMetadata().getName()));
  }

  private static List<EgressEntry> entries(EgressPlan p, String svc) {
    String key = NS + "/" + svc;
    return p.getSpec().getEntries().stream().filter(e -> key.equals(e.getService())).toList();
  }

  // --- cluster content -------------------------------------------------------------------

  /**
   * Stores every object straight into the mock's CRUD map (see {@link MockStore}): through the API,
   * each create scans the whole store, so 1,000 nodes / 10,000 Services took minutes.
   */
  void populate() throws Exception {
    // CrudApiServer.start registered both CRDs and the metallb-system namespace
    admin
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .create();
    List<HasMetadata> nodes = new ArrayList<>();
    List<HasMetadata> services = new ArrayList<>();
    List<HasMetadata> slices = new ArrayList<>();
    List<HasMetadata> l2 = new ArrayList<>();
    for (int n = 0; n < NODES; n++) {
      nodes.add(
          new NodeBuilder()
              .withNewMetadata()
              .withName(node(n))
              .withUid("uid-" + node(n))
              .endMetadata()
              .withNewStatus()
              .addNewAddress()
              .withType("InternalIP")
              .withAddress("100.64." + (n / 250) + "." + (n % 250 + 1))
              .endAddress()
              .addNewAddress()
              .withType("InternalIP")
              .withAddress("2001:db8::" + Integer.toHexString(n + 1))
              .endAddress()
              .endStatus()
              .build());
    }
    for (int s = 0; s < SERVICES; s++) {
      String svc = service(s);
      services.add(
          new ServiceBuilder()
              .withNewMetadata()
              .withNamespace(NS)
              .withName(svc)
              .addToLabels(EgressPlan.SERVICE_OPT_IN_LABEL, "true")
              .endMetadata()
              .withNewSpec()
              .withType("LoadBalancer")
              .endSpec()
              .withStatus(
                  new ServiceStatusBuilder()
                      .withNewLoadBalancer()
                      .addNewIngress()
                      .withIp("198.18." + (s / 250) + "." + (s % 250 + 1))
                      .endIngress()
                      .addNewIngress()
                      .withIp("2001:db8:100::" + Integer.toHexString(s + 1))
                      .endIngress()
                      .endLoadBalancer()
                      .build())
              .build());
      Map<String, String> ipToNode = new java.util.LinkedHashMap<>();
      for (int e = 0; e < ENDPOINTS; e++) {
        ipToNode.put(podIP(nextPod++), node(random.nextInt(NODES)));
      }
      pods.put(svc, ipToNode);
      slices.add(slice(svc));
      l2Generation.put(svc, 0);
      String announcer = node(random.nextInt(NODES));
      l2.add(l2Status(svc, announcer));
      gateway.put(svc, announcer);
    }
    MockStore.store(server, "/api/v1/nodes", nodes);
    MockStore.store(server, "/api/v1/namespaces/" + NS + "/services", services);
    MockStore.store(
        server, "/apis/discovery.k8s.io/v1/namespaces/" + NS + "/endpointslices", slices);
    MockStore.store(
        server, "/apis/metallb.io/v1beta1/namespaces/" + METALLB + "/servicel2statuses", l2);
    int listedNodes = admin.nodes().list().getItems().size();
    int listedL2 = admin.resources(ServiceL2Status.class).inAnyNamespace().list().getItems().size();
    if (listedNodes != NODES || listedL2 != SERVICES) {
      throw new IllegalStateException(
          "stored "
              + NODES
              + " nodes and "
              + SERVICES
              + " ServiceL2Statuses, listed "
              + listedNodes
              + ", "
              + listedL2);
    }
  }

  private EndpointSlice slice(String svc) {
    EndpointSliceBuilder b =
        new EndpointSliceBuilder()
            .withNewMetadata()
            .withNamespace(NS)
            .withName(svc + "-1")
            .addToLabels("kubernetes.io/service-name", svc)
            .endMetadata()
            .withAddressType("IPv4");
    pods.get(svc)
        .forEach(
            (ip, node) ->
                b.addNewEndpoint()
                    .withAddresses(ip)
                    .withNodeName(node)
                    .withNewTargetRef()
                    .withKind("Pod")
                    .withNamespace(NS)
                    .withName("pod-" + ip.replace('.', '-'))
                    .endTargetRef()
                    .endEndpoint());
    return b.build();
  }

  /** Creates the service's ServiceL2Status (current MetalLB shape: node in status). */
  private void announce(String svc, String node) {
    ServiceL2Status created = admin.resource(l2Status(svc, node)).create();
    created.setStatus(l2Status(svc, node).getStatus());
    admin.resource(created).updateStatus();
    gateway.put(svc, node);
  }

  private ServiceL2Status l2Status(String svc, String node) {
    ServiceL2Status l2 = new ServiceL2Status();
    l2.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(METALLB)
            .withName(l2Name(svc))
            .addToLabels(ServiceL2Status.LABEL_SERVICE_NAME, svc)
            .addToLabels(ServiceL2Status.LABEL_SERVICE_NAMESPACE, NS)
            .build());
    ServiceL2StatusStatus st = new ServiceL2StatusStatus();
    st.setNode(node);
    l2.setStatus(st);
    return l2;
  }

  private String l2Name(String svc) {
    return "l2-" + svc + "-" + l2Generation.get(svc);
  }

  static String node(int n) {
    return "node-" + n;
  }

  static String service(int s) {
    return "svc-" + s;
  }

  static String podIP(int pod) {
    return "10." + (pod >> 16 & 0xff) + "." + (pod >> 8 & 0xff) + "." + (pod & 0xff);
  }

  // --- statistics ------------------------------------------------------------------------

  static void print(String what, Collection<Long> nanos) {
    List<Long> s = nanos.stream().sorted().toList();
    System.out.printf(
        "%s, n=%d: p50 %.1f ms, p99 %.1f ms, min %.1f ms, max %.1f ms%n",
        what,
        s.size(),
        s.get(percentile(s.size(), 50)) / 1e6,
        s.get(percentile(s.size(), 99)) / 1e6,
        s.get(0) / 1e6,
        s.get(s.size() - 1) / 1e6);
  }

  /** Nearest-rank percentile index. */
  static int percentile(int size, int p) {
    return Math.max(0, (int) Math.ceil(p / 100.0 * size) - 1);
  }

  static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** User + system CPU time of a process so far, from /proc/PID/stat (clock ticks of 10 ms). */
  static long cpuMillis(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10;
    } catch (java.io.IOException | RuntimeException e) {
      return -1;
    }
  }

  /** The 1-minute load average, from /proc/loadavg. */
  static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }

  static long ms(long nanos) {
    return nanos / 1_000_000;
  }
}
