package de.metaleg.lab;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * When a pod IP is programmed in one node namespace's kernel, seen by a long-running process
 * started before the measurements (no process start-up in a measured interval). "Programmed": the
 * IP is a member of the node's source set or map for its role and no longer in the quarantine set
 * (the agent's transition protocol quarantines every new source until its conntrack audit is done,
 * docs/agent.md), i.e. its packets egress as planned from then on. Times are wall-clock
 * microseconds ({@link #nowMicros}), comparable with the agents' and the controller's log lines.
 */
sealed interface KernelWatch extends AutoCloseable permits KernelWatch.Nft, KernelWatch.Ipset {

  /**
   * Completes with the time {@code ip} is programmed; {@code gateway}: this node SNATs it (else it
   * marks it for a gateway).
   */
  CompletableFuture<Long> await(String ip, boolean gateway);

  @Override
  void close();

  static long nowMicros() {
    Instant i = Instant.now();
    return i.getEpochSecond() * 1_000_000 + i.getNano() / 1_000;
  }

  /**
   * nftables backend: {@code nft monitor} in the namespace, an event per element change and a
   * {@code # new generation} line after each committed transaction; the membership is evaluated at
   * that line (a transaction's elements arrive together), timestamped when the line is read.
   */
  final class Nft implements KernelWatch {
    private static final Pattern ELEMENT =
        Pattern.compile("^(add|delete) element inet metaleg (\\S+) \\{ (.*) \\}$");

    private final Process monitor;
    private final Members members = new Members();
    private final Map<String, Awaited> awaited = new ConcurrentHashMap<>();

    private record Awaited(boolean gateway, CompletableFuture<Long> done) {}

    Nft(String ns) {
      try {
        monitor =
            new ProcessBuilder("ip", "netns", "exec", ns, "stdbuf", "-oL", "nft", "monitor")
                .redirectErrorStream(true)
                .start();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      Thread reader = new Thread(this::read, "nft-monitor-" + ns);
      reader.setDaemon(true);
      reader.start();
    }

    @Override
    public CompletableFuture<Long> await(String ip, boolean gateway) {
      CompletableFuture<Long> done = new CompletableFuture<>();
      awaited.put(ip, new Awaited(gateway, done));
      synchronized (members) { // already programmed (cannot be for a fresh IP, but be exact)
        if (members.programmed(ip, gateway)) {
          done.complete(nowMicros());
        }
      }
      return done;
    }

    private void read() {
      List<String> transaction = new ArrayList<>();
      try (BufferedReader in =
          new BufferedReader(
              new InputStreamReader(monitor.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          if (!line.startsWith("# new generation")) {
            transaction.add(line);
            continue;
          }
          long t = nowMicros();
          synchronized (members) {
            transaction.forEach(members::apply);
            transaction.clear();
            awaited.forEach(
                (ip, a) -> {
                  if (members.programmed(ip, a.gateway())) {
                    a.done().complete(t);
                    awaited.remove(ip);
                  }
                });
          }
        }
      } catch (IOException e) {
        // the monitor was stopped
      }
    }

    @Override
    public void close() {
      monitor.destroy();
    }

    /** Members of the sets the condition reads, from the monitor's element events. */
    static final class Members {
      private final Map<String, Set<String>> sets = new HashMap<>();

      /** One monitor line; lines that are not element changes of MetalEG's table are ignored. */
      void apply(String line) {
        Matcher m = ELEMENT.matcher(line.trim());
        if (!m.matches()) {
          return;
        }
        Set<String> set = sets.computeIfAbsent(m.group(2), k -> new HashSet<>());
        for (String element : m.group(3).split(",\\s*")) {
          String key = element.split(" : ", 2)[0].trim();
          if (m.group(1).equals("add")) {
            set.add(key);
          } else {
            set.remove(key);
          }
        }
      }

      boolean programmed(String ip, boolean gateway) {
        String f = ip.contains(":") ? "6" : "4";
        return has((gateway ? "snat" : "mark") + f, ip) && !has("quar" + f, ip);
      }

      private boolean has(String set, String ip) {
        return sets.getOrDefault(set, Set.of()).contains(ip);
      }
    }
  }

  /**
   * iptables backend: ipset has no event source, so one {@code ipset -} (interactive mode: one
   * process, commands on stdin) per namespace is polled with {@code test} commands, about every
   * millisecond while an IP is awaited. Per round: the Service's source set, the gateway set on the
   * gateway, then the quarantine set; the sets only move from "not yet" to "source in and
   * quarantined" to "source in, quarantine lifted", so "in" followed by "not quarantined" means
   * programmed at the time of the last answer.
   */
  final class Ipset implements KernelWatch {
    private static final java.util.concurrent.ExecutorService POLLERS =
        java.util.concurrent.Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "ipset-poll");
              t.setDaemon(true);
              return t;
            });
    private final Process ipset;
    private final Writer commands;
    private final BufferedReader answers;
    private final String sourceSet;

    Ipset(String ns, String sourceSet) {
      this.sourceSet = sourceSet;
      try {
        ipset =
            new ProcessBuilder("ip", "netns", "exec", ns, "ipset", "-")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD) // prompts; answers go to stderr
                .start();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      commands = new OutputStreamWriter(ipset.getOutputStream(), StandardCharsets.UTF_8);
      answers =
          new BufferedReader(new InputStreamReader(ipset.getErrorStream(), StandardCharsets.UTF_8));
    }

    @Override
    public CompletableFuture<Long> await(String ip, boolean gateway) {
      String f = ip.contains(":") ? "6" : "4";
      List<String> in = new ArrayList<>(List.of(sourceSet));
      if (gateway) {
        in.add("metaleg-gw" + f);
      }
      String quarantine = "metaleg-quar" + f;
      long deadline = System.nanoTime() + 30_000_000_000L;
      return CompletableFuture.supplyAsync(
          () -> {
            while (System.nanoTime() < deadline) {
              if (in.stream().allMatch(set -> test(set, ip)) && !test(quarantine, ip)) {
                return nowMicros();
              }
              try {
                Thread.sleep(1);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
              }
            }
            throw new IllegalStateException(ip + " not programmed within 30 s");
          },
          POLLERS);
    }

    private synchronized boolean test(String set, String ip) {
      try {
        commands.write("test " + set + " " + ip + "\n");
        commands.flush();
        while (true) {
          String line = answers.readLine();
          if (line == null) {
            throw new IllegalStateException("ipset - exited");
          }
          if (line.contains(" is NOT in set ")) {
            return false;
          }
          if (line.contains(" is in set ")) {
            return true;
          }
          if (line.contains("does not exist")) {
            return false; // e.g. the gateway set before the first gateway entry
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void close() {
      ipset.destroy();
    }
  }
}
