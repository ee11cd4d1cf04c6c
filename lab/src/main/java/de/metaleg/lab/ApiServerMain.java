package de.metaleg.lab;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The lab's API server process: {@code java -jar metaleg-lab.jar --address A --port P --kubeconfig
 * FILE[=URL]...}. Each {@code --kubeconfig} writes a kubeconfig pointing at URL (default: the
 * server's own address), e.g. one for the lab LAN and one for a port forward on the host. Set
 * METALEG_LAB_API_VERBOSE=true to log every request.
 */
public final class ApiServerMain {
  /** Held so the JUL configuration is not garbage collected. */
  private static final java.util.logging.Logger MOCK_LOG =
      java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

  private ApiServerMain() {}

  record Options(String address, int port, List<KubeconfigTarget> kubeconfigs) {}

  record KubeconfigTarget(Path file, URI url) {}

  public static void main(String[] args) throws Exception {
    Options options;
    try {
      options = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("metaleg-lab api server: " + e.getMessage());
      System.err.println(
          "usage: java -jar metaleg-lab.jar [--address 127.0.0.1] [--port 6443]"
              + " [--kubeconfig FILE[=http://host:port]]...");
      System.exit(2);
      return;
    }
    if (!"true".equals(System.getenv("METALEG_LAB_API_VERBOSE"))) {
      // The mock logs every request at INFO; keep the lab logs readable.
      MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
    }
    LocalApiServer server =
        LocalApiServer.start(InetAddress.getByName(options.address()), options.port());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.close();
                  stopped.countDown();
                }));
    for (KubeconfigTarget target : options.kubeconfigs()) {
      write(target.file(), Kubeconfig.render(target.url() == null ? server.uri() : target.url()));
    }
    System.out.println("metaleg-lab api server listening on " + server.uri());
    System.out.flush();
    stopped.await();
  }

  static Options parse(String[] args) {
    String address = "127.0.0.1";
    int port = 6443;
    List<KubeconfigTarget> kubeconfigs = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String flag = args[i];
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("missing value after " + flag);
      }
      String value = args[++i];
      switch (flag) {
        case "--address" -> address = value;
        case "--port" -> port = parsePort(value);
        case "--kubeconfig" -> {
          int eq = value.indexOf('=');
          kubeconfigs.add(
              eq < 0
                  ? new KubeconfigTarget(Path.of(value), null)
                  : new KubeconfigTarget(
                      Path.of(value.substring(0, eq)), URI.create(value.substring(eq + 1))));
        }
        default -> throw new IllegalArgumentException("unknown flag " + flag);
      }
    }
    return new Options(address, port, List.copyOf(kubeconfigs));
  }

  private static int parsePort(String value) {
    try {
      int port = Integer.parseInt(value);
      if (port < 0 || port > 65535) {
        throw new NumberFormatException();
      }
      return port;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--port must be 0..65535, got '" + value + "'");
    }
  }

  private static void write(Path file, String content) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.writeString(file, content);
  }
}
