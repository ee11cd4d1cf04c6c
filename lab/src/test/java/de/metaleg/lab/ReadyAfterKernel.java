package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.testing.Upserts;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * After a step of an end-to-end scenario: every EgressPlan is Ready for its current generation
 * within a bound of its node's kernel being programmed, measured. An informer timestamps every
 * version of every plan as it arrives; a poller fingerprints each node's kernel state (iptables,
 * nft, ipsets, ip rules and routes, counters stripped) back to back and timestamps each change. Per
 * plan, the delay runs from the later of "current generation first seen" and "the node's last
 * kernel change before Ready" to "Ready for that generation, and so since" ({@link #timing}). A
 * change is known to within one poll (each node has its own poller thread), so the delay is a
 * range; a plan fails when even its shortest possible delay exceeds the bound: a loaded machine's
 * slow polls must not fail the step, a status that really comes late does.
 */
final class ReadyAfterKernel implements AutoCloseable {
  /** A plan version as the informer delivered it, {@code at} in {@link System#nanoTime()}. */
  record Sample(long at, long generation, boolean readyForIt) {}

  /** A kernel change the poller saw: it happened after {@code notBefore}, by {@code seenAt}. */
  record Change(long notBefore, long seenAt) {}

  /**
   * Ready for the current generation since {@code readyAt}; programmed between {@code from} and
   * {@code fromLatest} (the same instant when timed from the generation's arrival).
   */
  record Timing(long generation, long readyAt, long from, long fromLatest, String fromWhat) {
    /** The shortest the delay can have been (negative: Ready arrived before the poll saw it). */
    Duration shortestDelay() {
      return Duration.ofNanos(readyAt - fromLatest);
    }

    String describe() {
      return from == fromLatest
          ? (readyAt - from) / 1_000_000 + " ms"
          : (readyAt - fromLatest) / 1_000_000 + ".." + (readyAt - from) / 1_000_000 + " ms";
    }
  }

  /**
   * One node's kernel state, without what changes by itself: iptables-save's comments (a time
   * stamp) and chain counters, nft's rule counters.
   */
  private static final String FINGERPRINT =
      "{ iptables-save; ip6tables-save; nft list ruleset; ipset save; ip -4 rule; ip -6 rule;"
          + " ip -4 route show table all; ip -6 route show table all; } 2>&1"
          + " | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//g; s/packets [0-9]+ bytes [0-9]+//g'";

  private final LabPlan plan;
  private final Lab lab;
  private final Map<String, List<Sample>> samples = new LinkedHashMap<>();
  private final Map<String, EgressPlan> latest = new LinkedHashMap<>();
  private final Map<String, List<Change>> changes = new LinkedHashMap<>();
  private final SharedIndexInformer<EgressPlan> informer;
  private final List<Thread> pollers = new ArrayList<>();

  /** Per node: start of its last finished poll, and how long that poll took (nanos). */
  private final Map<String, long[]> lastPoll = new java.util.concurrent.ConcurrentHashMap<>();

  private volatile boolean closed;
  private long since = System.nanoTime();

  private ReadyAfterKernel(Lab lab) {
    this.lab = lab;
    this.plan = lab.plan;
    for (LabPlan.Node n : plan.nodes()) {
      samples.put(n.name(), new ArrayList<>());
      changes.put(n.name(), new ArrayList<>());
    }
    KubernetesClient client = lab.client();
    informer =
        client.resources(EgressPlan.class).inform(Upserts.handler(this::record, this::forget), 0);
    for (LabPlan.Node n : plan.nodes()) { // one thread each: a node's poll interval stays short
      Thread t = new Thread(() -> poll(n), "kernel-fingerprints-" + n.name());
      t.setDaemon(true);
      t.start();
      pollers.add(t);
    }
  }

  static ReadyAfterKernel start(Lab lab) {
    return new ReadyAfterKernel(lab);
  }

  /**
   * Waits until every plan is Ready for its current generation, then asserts that each became so
   * within {@code bound} of its node's kernel being programmed (plans Ready since before the
   * previous check are not timed: the step did not change them). Prints the delays.
   */
  void assertReadyWithin(String step, Duration bound, Duration timeout) {
    List<String> nodes = plan.nodes().stream().map(LabPlan.Node::name).toList();
    Await.until(
        step + ": every plan Ready for its current generation (informer)",
        timeout,
        () -> {
          lab.assertProcessesAlive();
          String wrong;
          synchronized (this) {
            wrong = PlanTable.notReady(new ArrayList<>(latest.values()), nodes);
          }
          return wrong.isEmpty() ? Optional.empty() : Optional.of(wrong);
        });
    long checkedAt = System.nanoTime();
    // Every kernel change before Ready must have been seen: one poll round started after now.
    Await.until(
        "one kernel poll round after " + step,
        Duration.ofSeconds(30),
        () ->
            nodes.stream().allMatch(n -> lastPoll.getOrDefault(n, new long[] {0, 0})[0] > checkedAt)
                ? Optional.empty()
                : Optional.of("polling"));
    List<String> report = new ArrayList<>();
    List<String> late = new ArrayList<>();
    synchronized (this) {
      for (String node : nodes) {
        Optional<Timing> t = timing(samples.get(node), changes.get(node), since);
        String line =
            t.map(
                    x ->
                        String.format(
                            "%s %s (generation %d, from its %s)",
                            node, x.describe(), x.generation(), x.fromWhat()))
                .orElse(node + " unchanged (Ready since before the step)");
        report.add(line);
        if (t.isPresent() && t.get().shortestDelay().compareTo(bound) > 0) {
          late.add(line);
        }
      }
    }
    since = checkedAt;
    String summary =
        step
            + ": Ready after the kernel was programmed: "
            + String.join(", ", report)
            + "; one kernel poll per node takes "
            + lastPoll.values().stream().mapToLong(p -> p[1] / 1_000_000).max().orElse(0)
            + " ms";
    System.out.println("E2E " + summary);
    assertTrue(
        late.isEmpty(),
        "plans Ready more than "
            + bound.toMillis()
            + " ms after the kernel: "
            + late
            + "; "
            + summary);
  }

  /**
   * Pure: when a plan became Ready for its newest generation (the start of the trailing run of
   * samples that are), and from when that is timed: the later of the generation's first sample and
   * the last kernel change that may have happened before Ready (not before the generation's
   * arrival, which it programmed). Empty when Ready since before {@code since}.
   */
  static Optional<Timing> timing(List<Sample> samples, List<Change> changes, long since) {
    if (samples.isEmpty() || !samples.get(samples.size() - 1).readyForIt()) {
      return Optional.empty();
    }
    long generation = samples.get(samples.size() - 1).generation();
    int first = samples.size() - 1;
    while (first > 0
        && samples.get(first - 1).readyForIt()
        && samples.get(first - 1).generation() == generation) {
      first--;
    }
    long readyAt = samples.get(first).at();
    if (readyAt < since) {
      return Optional.empty();
    }
    long generationSeen =
        samples.stream()
            .filter(s -> s.generation() == generation)
            .mapToLong(Sample::at)
            .min()
            .orElseThrow();
    Optional<Change> kernel =
        changes.stream().filter(c -> c.notBefore() < readyAt).reduce((a, b) -> b);
    if (kernel.isPresent() && kernel.get().seenAt() > generationSeen) {
      long from = Math.max(kernel.get().notBefore(), generationSeen);
      return Optional.of(
          new Timing(generation, readyAt, from, kernel.get().seenAt(), "kernel change"));
    }
    return Optional.of(
        new Timing(generation, readyAt, generationSeen, generationSeen, "generation's arrival"));
  }

  private void poll(LabPlan.Node n) {
    String previous = null;
    long previousStart = 0;
    while (!closed) {
      long start = System.nanoTime();
      String print = digest(Cmd.inNs(n.ns(), "sh", "-c", FINGERPRINT).output());
      long end = System.nanoTime();
      if (previous != null && !previous.equals(print)) {
        synchronized (this) {
          changes.get(n.name()).add(new Change(previousStart, end));
        }
      }
      previous = print;
      previousStart = start;
      lastPoll.put(n.name(), new long[] {start, end - start});
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private static String digest(String s) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private void record(EgressPlan p) {
    long at = System.nanoTime();
    String node = p.getMetadata().getName();
    long generation = Objects.requireNonNullElse(p.getMetadata().getGeneration(), 0L);
    boolean ready =
        p.getStatus() != null
            && Objects.equals(p.getStatus().getObservedGeneration(), generation)
            && "True".equals(PlanTable.ready(p.getStatus()));
    synchronized (this) {
      latest.put(node, p);
      List<Sample> list = samples.get(node);
      if (list != null) {
        list.add(new Sample(at, generation, ready));
      }
    }
  }

  private synchronized void forget(EgressPlan p) {
    latest.remove(p.getMetadata().getName());
  }

  @Override
  public void close() {
    closed = true;
    pollers.forEach(Thread::interrupt);
    informer.close();
  }
}
