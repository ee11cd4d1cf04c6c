package de.metaleg.lab;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The lab's IP plan as printed by {@code lab-net.sh plan} (the script is the one source of truth).
 */
public record LabPlan(
    String routerNs,
    String cpNs,
    String cpIPv4,
    int apiPort,
    int apiHostPort,
    List<Node> nodes,
    List<Pod> pods,
    String externalIPv4,
    String externalIPv6,
    String excludedIPv4,
    String excludedIPv6,
    int echoPort,
    int flowPort,
    String lbIPv4,
    String lbIPv6) {

  public record Node(String ns, String name, String ipv4, String ipv6, String mac) {}

  public record Pod(String id, String ns, String node, String ipv4, String ipv6) {}

  public LabPlan {
    nodes = List.copyOf(nodes);
    pods = List.copyOf(pods);
  }

  public Node node(String name) {
    return nodes.stream()
        .filter(n -> n.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no lab node " + name));
  }

  /** The Endpoint of each pod (EndpointSlice entry {@code web-<id>} on the pod's node). */
  public java.util.List<Cluster.Endpoint> endpoints(java.util.List<String> podIds) {
    return podIds.stream()
        .map(this::pod)
        .map(p -> new Cluster.Endpoint("web-" + p.id(), p.node(), p.ipv4(), p.ipv6()))
        .toList();
  }

  public Pod pod(String id) {
    return pods.stream()
        .filter(p -> p.id().equals(id))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no lab pod " + id));
  }

  /** Runs {@code bash <script> plan} and parses its output. */
  public static LabPlan load(Path script) {
    try {
      Process p =
          new ProcessBuilder("bash", script.toString(), "plan").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException(script + " plan failed: " + out);
      }
      return parse(out);
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + script, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Parses whitespace-separated {@code key=value} tokens. */
  public static LabPlan parse(String text) {
    Map<String, String> kv = new LinkedHashMap<>();
    for (String token : text.trim().split("\\s+")) {
      int eq = token.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("not key=value in lab plan: '" + token + "'");
      }
      kv.put(token.substring(0, eq), token.substring(eq + 1));
    }
    List<Node> nodes = new ArrayList<>();
    for (int i = 1; kv.containsKey("node." + i + ".ns"); i++) {
      String k = "node." + i + ".";
      nodes.add(
          new Node(
              get(kv, k + "ns"),
              get(kv, k + "name"),
              get(kv, k + "ipv4"),
              get(kv, k + "ipv6"),
              get(kv, k + "mac")));
    }
    List<Pod> pods = new ArrayList<>();
    kv.keySet().stream()
        .filter(key -> key.startsWith("pod.") && key.endsWith(".ns"))
        .map(key -> key.substring(4, key.length() - 3))
        .forEach(
            id ->
                pods.add(
                    new Pod(
                        id,
                        get(kv, "pod." + id + ".ns"),
                        get(kv, "pod." + id + ".node"),
                        get(kv, "pod." + id + ".ipv4"),
                        get(kv, "pod." + id + ".ipv6"))));
    return new LabPlan(
        get(kv, "router.ns"),
        get(kv, "cp.ns"),
        get(kv, "cp.ipv4"),
        Integer.parseInt(get(kv, "api.port")),
        Integer.parseInt(get(kv, "api.hostPort")),
        nodes,
        pods,
        get(kv, "external.ipv4"),
        get(kv, "external.ipv6"),
        get(kv, "excluded.ipv4"),
        get(kv, "excluded.ipv6"),
        Integer.parseInt(get(kv, "echo.port")),
        Integer.parseInt(get(kv, "flow.port")),
        get(kv, "lb.ipv4"),
        get(kv, "lb.ipv6"));
  }

  private static String get(Map<String, String> kv, String key) {
    String v = kv.get(key);
    if (v == null || v.isEmpty()) {
      throw new IllegalArgumentException("lab plan lacks " + key);
    }
    return v;
  }
}
