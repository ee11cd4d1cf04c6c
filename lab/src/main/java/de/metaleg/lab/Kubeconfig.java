package de.metaleg.lab;

import java.net.URI;

/** Renders the kubeconfig the lab's clients use to reach the local API server (plain HTTP). */
public final class Kubeconfig {
  static final String NAME = "metaleg-lab";

  private Kubeconfig() {}

  public static String render(URI server) {
    if (!"http".equals(server.getScheme()) || server.getHost() == null || server.getPort() < 1) {
      throw new IllegalArgumentException("expected http://host:port, got " + server);
    }
    return String.join(
        "\n",
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: " + NAME,
        "  cluster:",
        "    server: " + server,
        "users:",
        "- name: " + NAME,
        "  user:",
        "    token: lab",
        "contexts:",
        "- name: " + NAME,
        "  context:",
        "    cluster: " + NAME,
        "    user: " + NAME,
        "    namespace: default",
        "current-context: " + NAME,
        "");
  }

  /** {@code http://host:port}, with IPv6 literals in brackets. */
  public static URI httpUri(String host, int port) {
    String h = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    return URI.create("http://" + h + ":" + port);
  }
}
