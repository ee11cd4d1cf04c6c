package de.metaleg.agent.kernel;

import de.metaleg.agent.render.IptablesPayloads;
import de.metaleg.agent.render.Names;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link KernelChanges} from one long-running {@code xtables-monitor -e} (iptables-nft's event
 * monitor, line-buffered with {@code stdbuf -oL}): it prints a line per changed rule or chain and
 * {@code NEWGEN: GENID=n PID=p NAME=x} at the end of every nf_tables commit, whoever made it. It
 * keeps no copy of the ruleset (unlike {@code nft monitor}, whose start-up cache took 7.5 s of CPU
 * and 140 MB next to kube-proxy's 10,000 Services), so it costs nothing while nothing changes.
 *
 * <p>A commit is a change unless it was the agent's own ({@link #own}: by process id) or all of its
 * events are iptables rule or chain events in chains that are neither ours nor the built-in chains
 * holding our jumps (kube-proxy's and the CNI's churn). Element changes print no event line, so a
 * commit without any is a change. Until the monitor's netlink socket is subscribed (checked in
 * {@code /proc}), after it exits (it does on netlink overflow, e.g. during a full sync of 40,000
 * elements) and on any line it cannot parse, everything counts as changed.
 *
 * <p>When it cannot be started or does not subscribe within 1 s (binary missing, no permission),
 * the canary reads everything every time (as with iptables-legacy) and the monitor is tried again
 * after {@link Retries} back-off, not on every run: a failed start blocks the canary's run for up
 * to that second. Logged once when falling back and once when it works again.
 */
public final class XtablesMonitor implements KernelChanges, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(XtablesMonitor.class);
  private static final int MAX_PENDING = 10_000;
  private static final int OWN_PIDS = 256;
  private static final long SUBSCRIBE_WAIT_MS = 1_000;

  /** One nf_tables commit: who made it, and whether it may have touched our objects. */
  public record Commit(long pid, boolean relevant) {}

  private final List<String> prefix;
  private final Set<Long> own = new LinkedHashSet<>(); // guarded by this
  private final Transactions pending = new Transactions(); // guarded by this
  private Process process; // guarded by this
  private boolean trusted; // guarded by this: subscribed and no event lost since
  private final Retries retries = new Retries(); // guarded by this
  private final LongSupplier nanoTime;

  /** {@code prefix} as for {@link ProcessRunner} ({@code ip netns exec NS} in tests). */
  public XtablesMonitor(List<String> prefix) {
    this(prefix, System::nanoTime);
    Runtime.getRuntime().addShutdownHook(new Thread(this::close, "metaleg-monitor-stop"));
  }

  XtablesMonitor(List<String> prefix, LongSupplier nanoTime) {
    this.prefix = List.copyOf(prefix);
    this.nanoTime = nanoTime;
  }

  @Override
  public synchronized boolean changed() {
    if (!trusted || !process.isAlive()) {
      long now = nanoTime.getAsLong();
      if (retries.due(now)) {
        stop();
        String failure = start();
        if (failure == null && retries.succeeded()) {
          LOG.info("xtables-monitor subscribed again: the canary reads nf_tables only on change");
        } else if (failure != null && retries.failed(now)) {
          LOG.warn(
              "{}: the canary reads everything every run; retrying with back-off up to {} s",
              failure,
              Retries.MAX_NANOS / 1_000_000_000L);
        }
      }
      return true;
    }
    return pending.drain().stream().anyMatch(c -> c.relevant() && !own.contains(c.pid()));
  }

  @Override
  public CommandRunner own(CommandRunner runner) {
    return (argv, stdin) -> {
      CommandRunner.Result r = runner.run(argv, stdin);
      if (r.pid() > 0) {
        synchronized (this) {
          own.add(r.pid());
          if (own.size() > OWN_PIDS) {
            own.remove(own.iterator().next());
          }
        }
      }
      return r;
    };
  }

  /**
   * Starts the monitor and waits (up to 1 s) until its socket is subscribed: from then on every
   * commit reaches it, and the canary's read that follows covers everything before. Null when it
   * is, else why not.
   */
  private String start() {
    trusted = false;
    pending.drain();
    List<String> argv = new ArrayList<>(prefix);
    argv.addAll(List.of("stdbuf", "-oL", "xtables-monitor", "-e"));
    Process p;
    try {
      p =
          new ProcessBuilder(argv)
              .redirectErrorStream(true)
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .start();
    } catch (IOException e) {
      return "cannot run " + String.join(" ", argv) + ": " + e.getMessage();
    }
    process = p;
    Thread reader = new Thread(() -> read(p), "metaleg-nft-events");
    reader.setDaemon(true);
    reader.start();
    long deadline = System.nanoTime() + SUBSCRIBE_WAIT_MS * 1_000_000;
    while (p.isAlive() && System.nanoTime() < deadline) {
      if (subscribed(p.pid())) {
        trusted = true;
        return null;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    String why =
        p.isAlive()
            ? " not subscribed within " + SUBSCRIBE_WAIT_MS + " ms"
            : " exited with " + p.exitValue();
    p.destroy();
    return String.join(" ", argv) + why;
  }

  private void read(Process p) {
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        synchronized (this) {
          if (process != p) {
            return;
          }
          if (!pending.line(line) || pending.size() > MAX_PENDING) {
            LOG.debug("xtables-monitor: {}", line);
            trusted = false; // e.g. "cannot receive from nfnetlink socket: No buffer space"
            p.destroy();
            return;
          }
        }
      }
    } catch (IOException e) {
      // the process ended; changed() sees it
    }
    synchronized (this) {
      if (process == p) {
        trusted = false;
      }
    }
  }

  @Override
  public synchronized void pause() {
    stop();
  }

  @Override
  public synchronized void close() {
    stop();
  }

  private void stop() {
    trusted = false;
    if (process != null) {
      process.destroy();
      try {
        process.waitFor(1, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      process = null;
    }
  }

  /** Whether process {@code pid} has a netfilter netlink socket subscribed to nftables events. */
  static boolean subscribed(long pid) {
    Set<String> inodes = new HashSet<>();
    try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      fds.forEach(
          fd -> {
            try {
              String target = Files.readSymbolicLink(fd).toString();
              if (target.startsWith("socket:[")) {
                inodes.add(target.substring(8, target.length() - 1));
              }
            } catch (IOException e) {
              // closed meanwhile
            }
          });
      return subscribed(
          Files.readString(Path.of("/proc", Long.toString(pid), "net", "netlink")), inodes);
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Pure: whether {@code /proc/PID/net/netlink} holds one of {@code inodes} as a NETLINK_NETFILTER
   * (12) socket in group NFNLGRP_NFTABLES (7, bit 0x40 of the groups column).
   */
  static boolean subscribed(String netlinkTable, Set<String> inodes) {
    for (String line : netlinkTable.split("\n")) {
      String[] c = line.trim().split("\\s+");
      if (c.length >= 10 && c[1].equals("12") && inodes.contains(c[9])) {
        try {
          if ((Long.parseLong(c[3], 16) & 0x40) != 0) {
            return true;
          }
        } catch (NumberFormatException e) {
          // not a socket line
        }
      }
    }
    return false;
  }

  /**
   * Pure: when to try starting the monitor again after starts that failed, 30 s after the first,
   * doubling up to 5 minutes; a start that works resets it.
   */
  static final class Retries {
    static final long FIRST_NANOS = 30_000_000_000L;
    static final long MAX_NANOS = 300_000_000_000L;
    private int failures;
    private long next;

    /** Whether a start may be tried at {@code now} (nanoTime). */
    boolean due(long now) {
      return failures == 0 || now - next >= 0;
    }

    /** A start at {@code now} failed; true when it is the first since the last that worked. */
    boolean failed(long now) {
      failures++;
      next = now + Math.min(MAX_NANOS, FIRST_NANOS << Math.min(failures - 1, 10));
      return failures == 1;
    }

    /** A start worked; true when starts had failed before it. */
    boolean succeeded() {
      boolean recovered = failures > 0;
      failures = 0;
      return recovered;
    }
  }

  /** Pure: turns the monitor's lines into commits. */
  static final class Transactions {
    private static final Pattern NEWGEN = Pattern.compile("^NEWGEN: GENID=\\d+ PID=(\\d+)\\b.*");
    private static final Pattern EVENT = Pattern.compile("^ ?EVENT: ?(.*)$");
    private static final Pattern IPTABLES =
        Pattern.compile("^-[46] -t (\\S+) -[A-Z] (\\S+)(\\s.*)?$");

    private final List<Commit> commits = new ArrayList<>();
    private boolean events;
    private boolean relevant;

    /** Takes one line; false when it is neither an event nor the end of a commit. */
    boolean line(String line) {
      Matcher g = NEWGEN.matcher(line);
      if (g.matches()) {
        commits.add(new Commit(Long.parseLong(g.group(1)), relevant || !events));
        events = false;
        relevant = false;
        return true;
      }
      Matcher e = EVENT.matcher(line);
      if (e.matches()) {
        events = true;
        relevant |= relevant(e.group(1).strip());
        return true;
      }
      return line.isBlank();
    }

    int size() {
      return commits.size();
    }

    List<Commit> drain() {
      List<Commit> out = List.copyOf(commits);
      commits.clear();
      return out;
    }

    /**
     * An event may touch our objects unless it is an iptables rule or chain event ({@code -4 -t nat
     * -A KUBE-SEP-... }) in a chain that is not ours, not a built-in chain holding our jump, and
     * does not mention our chains. Everything else (nft objects, which print as an empty event or
     * {@code nft: ...}, tables) may.
     */
    static boolean relevant(String event) {
      Matcher m = IPTABLES.matcher(event);
      if (!m.matches() || event.contains(Names.CHAIN_PREFIX)) {
        return true;
      }
      String table = m.group(1);
      String chain = m.group(2);
      return IptablesPayloads.JUMPS.stream()
          .anyMatch(j -> j.table().equals(table) && j.builtin().equals(chain));
    }
  }
}
