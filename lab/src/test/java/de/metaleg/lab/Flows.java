package de.metaleg.lab;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Long-lived flows from pod namespaces to the external host's flow port (lab/scripts/flows.py, one
 * process per pod): per family one TCP connection and one UDP socket answering every ~100 ms, and
 * optionally a fresh TCP connection every ~50 ms. Events carry CLOCK_MONOTONIC milliseconds, the
 * clock of {@link System#nanoTime()}, so {@link #report(double, double)} can cut any window out of
 * a run. Raw events go to {@code target/lab-logs/flows-<label>-<pod>.log}.
 */
final class Flows implements AutoCloseable {
  /** One line of flows.py. */
  record Event(double t, String pod, String flow, String kind, List<String> fields) {}

  /**
   * What one flow (pod × tcp4/tcp6/udp4/udp6) did in a window. {@code maxStallMs} is the longest
   * time without an answer, also counting from the window's start and up to its end; {@code
   * maxClosedStallMs} only counts gaps that ended with an answer (a live flow's stall).
   */
  record FlowStats(
      String pod,
      String flow,
      int answers,
      List<String> broken,
      double maxStallMs,
      double maxClosedStallMs,
      Map<String, Integer> sources,
      int wrongSources,
      double lastAnswer) {
    /** "3 (broken rst x2, connect-failed econnrefused x1, first at +321 ms)", or "0". */
    String brokenSummary() {
      if (broken.isEmpty()) {
        return "0";
      }
      Map<String, Integer> kinds = new TreeMap<>();
      for (String b : broken) {
        kinds.merge(b.substring(0, b.indexOf(" at ")), 1, Integer::sum);
      }
      StringBuilder sb = new StringBuilder(broken.size() + " (");
      kinds.forEach((k, n) -> sb.append(k).append(" x").append(n).append(", "));
      sb.append("first at ").append(broken.get(0).substring(broken.get(0).indexOf(" at ") + 4));
      return sb.append(')').toString();
    }
  }

  /** What one fresh-connect prober (pod × fresh4/fresh6) saw in a window. */
  record FreshStats(
      String pod, String flow, int ok, int refused, int timeout, int other, int wrongSources) {
    int failed() {
      return refused + timeout + other;
    }
  }

  record Report(double from, double to, List<FlowStats> flows, List<FreshStats> fresh) {
    String table() {
      StringBuilder sb =
          new StringBuilder(
              String.format(
                  "  window %.0f ms%n  %-4s %-5s %7s %7s %9s %6s  %s%n",
                  to - from, "pod", "flow", "answers", "broken", "stall ms", "wrong", "sources"));
      for (FlowStats f : flows) {
        sb.append(
            String.format(
                "  %-4s %-5s %7d %7d %9.0f %6d  %s%s%n",
                f.pod(),
                f.flow(),
                f.answers(),
                f.broken().size(),
                f.maxStallMs(),
                f.wrongSources(),
                f.sources(),
                f.broken().isEmpty() ? "" : " broken: " + f.brokenSummary()));
      }
      for (FreshStats f : fresh) {
        sb.append(
            String.format(
                "  %-4s %-6s ok %d refused %d timeout %d other %d wrong-source %d%n",
                f.pod(), f.flow(), f.ok(), f.refused(), f.timeout(), f.other(), f.wrongSources()));
      }
      return sb.toString();
    }
  }

  private final LabPlan plan;
  private final String label;
  private final Map<String, Process> processes = new LinkedHashMap<>();
  private final java.util.Set<String> pods = new java.util.LinkedHashSet<>();
  private final List<Event> events = Collections.synchronizedList(new ArrayList<>());
  private final List<Thread> readers = new ArrayList<>();

  private Flows(LabPlan plan, String label) {
    this.plan = plan;
    this.label = label;
  }

  /** A run that already happened: these flows.py lines of one pod (for tests of the report). */
  static Flows replay(LabPlan plan, String pod, List<String> lines) {
    Flows f = new Flows(plan, "replay");
    f.pods.add(pod);
    for (String l : lines) {
      parse(pod, l).ifPresent(f.events::add);
    }
    return f;
  }

  /** Seconds without an answer after which flows.py gives a TCP connection up. */
  static final int DEAD_S = 60;

  /** The long-lived flows flows.py runs per pod. */
  static final List<String> LONG_LIVED = List.of("tcp4", "tcp6", "udp4", "udp6");

  static double nowMs() {
    return System.nanoTime() / 1e6;
  }

  /** Starts flows.py in each pod's namespace ({@code fresh}: with the fresh-connect prober). */
  static Flows start(LabPlan plan, String label, List<String> pods, boolean fresh)
      throws IOException {
    Flows f = new Flows(plan, label);
    try {
      for (String pod : pods) {
        f.startOne(pod, fresh);
      }
    } catch (IOException | RuntimeException e) {
      f.close();
      throw e;
    }
    return f;
  }

  private void startOne(String pod, boolean fresh) throws IOException {
    List<String> cmd =
        Lab.inPod(
            plan,
            pod,
            "flows.py",
            "--v4",
            plan.externalIPv4(),
            "--v6",
            plan.externalIPv6(),
            "--port",
            Integer.toString(plan.flowPort()),
            // a stall is judged by the checks' bounds; flows.py gives a connection up (and
            // reports it broken) only after DEAD_S, longer than any bound
            "--dead",
            Integer.toString(DEAD_S));
    if (fresh) {
      cmd.addAll(List.of("--fresh", "0.05"));
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    processes.put(pod, p);
    pods.add(pod);
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                  parse(pod, l).ifPresent(events::add);
                }
              } catch (IOException e) {
                events.add(new Event(nowMs(), pod, "all", "reader-error", List.of(e.toString())));
              }
            },
            "flows-" + pod);
    reader.setDaemon(true);
    reader.start();
    readers.add(reader);
  }

  static Optional<Event> parse(String pod, String line) {
    String[] f = line.trim().split("\\s+");
    if (f.length < 3) {
      return Optional.of(new Event(nowMs(), pod, "all", "noise", List.of(line)));
    }
    try {
      return Optional.of(
          new Event(Double.parseDouble(f[0]), pod, f[1], f[2], List.of(f).subList(3, f.length)));
    } catch (NumberFormatException e) {
      return Optional.of(new Event(nowMs(), pod, "all", "noise", List.of(line)));
    }
  }

  private List<Event> snapshot() {
    synchronized (events) {
      return new ArrayList<>(events);
    }
  }

  /**
   * Waits until every TCP and UDP flow of every pod has at least {@code answers} answers with the
   * expected LB source (and the fresh probers one success each, if running).
   */
  void awaitWarm(int answers, Duration timeout) {
    Await.until(
        "every long-lived flow to answer " + answers + " times with the LB IP",
        timeout,
        () -> {
          for (var e : processes.entrySet()) {
            if (!e.getValue().isAlive()) {
              throw new AssertionError(
                  "flows.py in pod " + e.getKey() + " exited: " + raw(e.getKey()));
            }
          }
          List<String> missing =
              lacking(
                  report(0, nowMs()),
                  processes.keySet(),
                  f -> f.sources().getOrDefault(lbFor(f.flow()), 0) >= answers);
          return missing.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", missing));
        });
  }

  /**
   * Waits until every TCP and UDP flow of {@code pods} answered (with any source: the checks judge
   * sources) after {@code since}; returns the report from {@code since} to then.
   */
  Report awaitAnsweringSince(double since, List<String> pods, Duration timeout) {
    Await.until(
        "the long-lived flows of " + pods + " to answer again",
        timeout,
        () -> {
          List<String> silent = lacking(report(since, nowMs()), pods, f -> f.answers() > 0);
          return silent.isEmpty() ? Optional.empty() : Optional.of("silent: " + silent);
        });
    return report(since, nowMs());
  }

  /**
   * Each long-lived flow of {@code pods} whose statistics in {@code r} do not pass {@code ok}, as
   * "pod flow" and its sources so far (or "no answer yet").
   */
  static List<String> lacking(Report r, Collection<String> pods, Predicate<FlowStats> ok) {
    List<String> out = new ArrayList<>();
    for (String pod : pods) {
      for (String flow : LONG_LIVED) {
        Optional<FlowStats> s =
            r.flows().stream()
                .filter(f -> f.pod().equals(pod) && f.flow().equals(flow))
                .findFirst();
        if (s.isEmpty() || !ok.test(s.get())) {
          out.add(
              pod + " " + flow + " " + s.map(f -> f.sources().toString()).orElse("no answer yet"));
        }
      }
    }
    return out;
  }

  String lbFor(String flow) {
    return flow.endsWith("6") ? plan.lbIPv6() : plan.lbIPv4();
  }

  /**
   * Statistics of the events in [from, to] (nanoTime ms). Stall = the longest time without an
   * answer on a flow within the window, counting from the window's start and up to its end, across
   * reconnects; wrong sources = answers whose source is not the LB IP of the flow's family.
   */
  Report report(double from, double to) {
    List<Event> all = snapshot();
    Map<String, List<Event>> byFlow = new TreeMap<>();
    for (Event e : all) {
      if (e.t() >= from && e.t() <= to && !e.flow().equals("all")) {
        byFlow.computeIfAbsent(e.pod() + " " + e.flow(), k -> new ArrayList<>()).add(e);
      }
    }
    for (String pod : pods) { // a flow without any event stalled throughout
      for (String flow : LONG_LIVED) {
        byFlow.computeIfAbsent(pod + " " + flow, k -> new ArrayList<>());
      }
    }
    List<FlowStats> flows = new ArrayList<>();
    List<FreshStats> fresh = new ArrayList<>();
    for (var entry : byFlow.entrySet()) {
      String pod = entry.getKey().split(" ")[0];
      String flow = entry.getKey().split(" ")[1];
      String lb = lbFor(flow);
      List<Event> es = entry.getValue();
      if (flow.startsWith("fresh")) {
        int ok = 0, refused = 0, timeout = 0, other = 0, wrong = 0;
        for (Event e : es) {
          switch (e.kind()) {
            case "ok" -> {
              ok++;
              if (!lb.equals(e.fields().get(0))) {
                wrong++;
              }
            }
            case "refused" -> refused++;
            case "timeout" -> timeout++;
            default -> other++;
          }
        }
        fresh.add(new FreshStats(pod, flow, ok, refused, timeout, other, wrong));
        continue;
      }
      int answers = 0, wrong = 0;
      double last = from, maxStall = 0, lastAnswer = -1;
      List<String> broken = new ArrayList<>();
      Map<String, Integer> sources = new TreeMap<>();
      for (Event e : es) {
        switch (e.kind()) {
          case "ans" -> {
            answers++;
            String src = e.fields().get(2);
            sources.merge(src, 1, Integer::sum);
            if (!lb.equals(src)) {
              wrong++;
            }
            maxStall = Math.max(maxStall, e.t() - last);
            last = e.t();
            lastAnswer = e.t();
          }
          case "broken", "error", "connect-failed" ->
              broken.add(
                  String.format(
                      "%s %s at %+.0f ms",
                      e.kind(), e.fields().get(e.fields().size() - 1), e.t() - from));
          default -> {}
        }
      }
      double closed = maxStall; // gaps that ended with an answer: the flow lived through them
      maxStall = Math.max(maxStall, to - last);
      flows.add(
          new FlowStats(pod, flow, answers, broken, maxStall, closed, sources, wrong, lastAnswer));
    }
    return new Report(from, to, flows, fresh);
  }

  /** The raw lines of one pod's flows.py so far. */
  String raw(String pod) {
    StringBuilder sb = new StringBuilder();
    for (Event e : snapshot()) {
      if (e.pod().equals(pod)) {
        sb.append(String.format("%.1f %s %s %s%n", e.t(), e.flow(), e.kind(), e.fields()));
      }
    }
    return sb.toString();
  }

  /** Writes every pod's raw events to target/lab-logs/flows-LABEL-POD.log; returns the paths. */
  List<Path> writeLogs() {
    List<Path> paths = new ArrayList<>();
    for (String pod : processes.keySet()) {
      Path p = Lab.LOGS.resolve("flows-" + label + "-" + pod + ".log");
      try {
        Files.writeString(p, raw(pod));
        paths.add(p);
      } catch (IOException e) {
        // a report without the file is still a report
      }
    }
    return paths;
  }

  /** Ends every flows.py (EOF on stdin, then SIGKILL after 5 s) and writes the logs. */
  @Override
  public void close() {
    for (Process p : processes.values()) {
      try {
        p.getOutputStream().close();
      } catch (IOException e) {
        // already gone
      }
    }
    for (Process p : processes.values()) {
      try {
        if (!p.waitFor(5, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          p.waitFor(2, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.destroyForcibly();
      }
    }
    for (Thread t : readers) {
      try {
        t.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    writeLogs();
  }
}
