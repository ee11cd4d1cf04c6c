package de.metaleg.agent.kernel;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;

/**
 * Helpers for *KernelIT tests: they need root and the real tools. Without them the tests skip,
 * unless {@code -Dmetaleg.kernelTests=required} (CI), where they fail. Every namespace is named
 * {@code megA-...} (iptables) or {@code megN-...} (nftables) and deleted after the test.
 */
public final class KernelTestSupport implements AutoCloseable {
  private static final List<String> TOOLS =
      List.of(
          "ip",
          "ipset",
          "nft",
          "iptables-nft-restore",
          "iptables-legacy-restore",
          "ip6tables-nft-restore",
          "ip6tables-legacy-restore",
          "conntrack",
          "socat");

  private final List<String> namespaces = new ArrayList<>();

  public static void requireKernel() {
    String why = null;
    if (!"root".equals(System.getProperty("user.name"))) {
      why = "not root";
    } else {
      for (String tool : TOOLS) {
        if (ProcessRunner.host().run(List.of("sh", "-c", "command -v " + tool)).exit() != 0) {
          why = tool + " not installed";
          break;
        }
      }
    }
    if (why == null) {
      return;
    }
    if ("required".equals(System.getProperty("metaleg.kernelTests"))) {
      fail("kernel tests are required but cannot run: " + why);
    }
    assumeTrue(false, "kernel test skipped: " + why);
  }

  /** Creates a fresh namespace {@code megA-<name>} (deleting a leftover of the same name). */
  public ProcessRunner namespace(String name) {
    return namespace("megA-", name);
  }

  /** Creates a fresh namespace {@code <prefix><name>} (deleting a leftover of the same name). */
  public ProcessRunner namespace(String prefix, String name) {
    String ns = prefix + name;
    ProcessRunner.host().run(List.of("ip", "netns", "del", ns));
    sh(ProcessRunner.host(), "ip netns add " + ns);
    namespaces.add(ns);
    ProcessRunner r = ProcessRunner.inNamespace(ns);
    sh(r, "ip link set lo up");
    sh(r, "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
    sh(r, "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1");
    return r;
  }

  /** Runs a shell command line, failing the test with its output when it fails. */
  public static String sh(CommandRunner runner, String command) {
    CommandRunner.Result r = runner.run(List.of("sh", "-c", command));
    if (!r.ok()) {
      fail("`" + command + "` failed: " + r.stderr() + r.stdout());
    }
    return r.stdout();
  }

  /** src/test/resources/kernel/packets.py: single datagrams and TCP segments (see its doc). */
  static final java.nio.file.Path PACKETS =
      java.nio.file.Path.of("src/test/resources/kernel/packets.py").toAbsolutePath();

  /** Runs packets.py with {@code args} in a namespace, to completion. */
  public static void packets(CommandRunner ns, String... args) {
    sh(ns, "python3 " + PACKETS + " " + String.join(" ", args));
  }

  /** Like {@link #sh} but returns stdout whatever the exit status. */
  public static String out(CommandRunner runner, String command) {
    return runner.run(List.of("sh", "-c", command)).stdout();
  }

  @Override
  public void close() {
    for (String ns : namespaces) {
      ProcessRunner.host().run(List.of("ip", "netns", "del", ns));
    }
  }
}
