package de.metaleg.agent;

import de.metaleg.agent.model.Cidr;
import de.metaleg.agent.model.MarkSpace;
import de.metaleg.common.BindAddress;
import de.metaleg.common.ConfigException;
import de.metaleg.common.Env;
import de.metaleg.common.EnvVar;
import de.metaleg.common.net.Family;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The agent's configuration, read from the environment; every error names variable and value. */
public record AgentConfig(
    String nodeName,
    String firewallBackend,
    MarkSpace markSpace,
    List<Cidr> excludeDestinations,
    String routeBackend,
    Duration reconciliationInterval,
    Optional<BindAddress> metricsAddress,
    Optional<BindAddress> healthProbeAddress) {

  public static final String NODE_NAME = "NODE_NAME";
  public static final String FIREWALL_BACKEND = "FIREWALL_BACKEND";
  public static final String FIREWALL_MASK = "FIREWALL_MASK";
  public static final String FIREWALL_EXCLUDE_DST_CIDRS = "FIREWALL_EXCLUDE_DST_CIDRS";
  public static final String ROUTE_BACKEND = "ROUTE_BACKEND";
  public static final String ROUTE_TABLE_ID_OFFSET = "ROUTE_TABLE_ID_OFFSET";
  public static final String RECONCILIATION_INTERVAL = "RECONCILIATION_INTERVAL";
  public static final String METRICS_BIND_ADDRESS = "METRICS_BIND_ADDRESS";
  public static final String HEALTH_PROBE_BIND_ADDRESS = "HEALTH_PROBE_BIND_ADDRESS";

  /** Every variable the agent reads and its default, in the order of the users' table. */
  public static final List<EnvVar> VARIABLES =
      List.of(
          new EnvVar(NODE_NAME, "", "The node whose EgressPlan this agent programs (required)"),
          new EnvVar(
              FIREWALL_BACKEND,
              "iptables",
              "iptables (nft or legacy flavour, as the node uses) or nftables"),
          new EnvVar(
              FIREWALL_MASK,
              "0x00F00000",
              "Packet-mark bits MetalEG owns; contiguous, at least 2 bits"),
          new EnvVar(
              FIREWALL_EXCLUDE_DST_CIDRS,
              "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, fc00::/7, fe80::/10",
              "Destinations never rerouted nor SNATed"),
          new EnvVar(ROUTE_BACKEND, "netlink", "ip rules and routes in the Linux routing stack"),
          new EnvVar(
              ROUTE_TABLE_ID_OFFSET,
              "100000",
              "Route tables are offset+1 .. offset+number of marks"),
          new EnvVar(RECONCILIATION_INTERVAL, "5m", "Periodic full resync"),
          new EnvVar(METRICS_BIND_ADDRESS, ":21793", "Prometheus /metrics; 0 disables"),
          new EnvVar(HEALTH_PROBE_BIND_ADDRESS, ":21794", "/healthz and /readyz; 0 disables"));

  /** Firewall backends this version implements. */
  public static final List<String> FIREWALL_BACKENDS = List.of("iptables", "nftables");

  public static final List<String> ROUTE_BACKENDS = List.of("netlink");

  public AgentConfig {
    excludeDestinations = List.copyOf(excludeDestinations);
  }

  public static String defaultOf(String name) {
    return EnvVar.defaultOf(VARIABLES, name);
  }

  /** The full configuration of a running agent; NODE_NAME is required. */
  public static AgentConfig fromEnv(Map<String, String> env) {
    return parse(new Env(env), true);
  }

  /** For {@code --cleanup}: NODE_NAME is not needed, everything else is read the same way. */
  public static AgentConfig forCleanup(Map<String, String> env) {
    return parse(new Env(env), false);
  }

  private static AgentConfig parse(Env env, boolean needNode) {
    String node = needNode ? env.required(NODE_NAME) : env.string(NODE_NAME, "");
    String fw = env.string(FIREWALL_BACKEND, defaultOf(FIREWALL_BACKEND));
    if (!FIREWALL_BACKENDS.contains(fw)) {
      throw new ConfigException(
          FIREWALL_BACKEND,
          fw,
          "unknown firewall backend; supported: " + String.join(", ", FIREWALL_BACKENDS));
    }
    String route = env.string(ROUTE_BACKEND, defaultOf(ROUTE_BACKEND));
    if (!ROUTE_BACKENDS.contains(route)) {
      throw new ConfigException(
          ROUTE_BACKEND, route, "unknown route backend; supported: " + ROUTE_BACKENDS);
    }
    String maskText = env.string(FIREWALL_MASK, defaultOf(FIREWALL_MASK));
    long mask = env.longValue(FIREWALL_MASK, 0x00F00000L, 1, 0xFFFFFFFFL);
    long offset = env.longValue(ROUTE_TABLE_ID_OFFSET, 100000, 0, MarkSpace.MAX_TABLE);
    MarkSpace marks;
    try {
      marks = new MarkSpace(mask, offset);
    } catch (IllegalArgumentException e) {
      String variable = e.getMessage().startsWith("route tables") ? ROUTE_TABLE_ID_OFFSET : null;
      if (variable != null) {
        throw new ConfigException(
            ROUTE_TABLE_ID_OFFSET,
            env.string(ROUTE_TABLE_ID_OFFSET, "100000"),
            e.getMessage() + " (with " + FIREWALL_MASK + "=" + maskText + ")");
      }
      throw new ConfigException(FIREWALL_MASK, maskText, e.getMessage());
    }
    String excludeText =
        env.string(FIREWALL_EXCLUDE_DST_CIDRS, defaultOf(FIREWALL_EXCLUDE_DST_CIDRS));
    List<Cidr> exclude = new ArrayList<>();
    for (String part : excludeText.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      if (part.trim().endsWith("/0")) {
        throw new ConfigException(
            FIREWALL_EXCLUDE_DST_CIDRS,
            excludeText,
            "\""
                + part.trim()
                + "\": a /0 prefix is not supported (ipset hash:net cannot hold it)");
      }
      exclude.add(
          Cidr.parse(part)
              .orElseThrow(
                  () ->
                      new ConfigException(
                          FIREWALL_EXCLUDE_DST_CIDRS,
                          excludeText,
                          "\"" + part.trim() + "\" is not an IPv4 or IPv6 CIDR")));
    }
    return new AgentConfig(
        node,
        fw,
        marks,
        exclude,
        route,
        env.duration(RECONCILIATION_INTERVAL, defaultOf(RECONCILIATION_INTERVAL)),
        env.bindAddress(METRICS_BIND_ADDRESS, defaultOf(METRICS_BIND_ADDRESS)),
        env.bindAddress(HEALTH_PROBE_BIND_ADDRESS, defaultOf(HEALTH_PROBE_BIND_ADDRESS)));
  }

  public List<Cidr> exclude(Family family) {
    return excludeDestinations.stream().filter(c -> c.family() == family).toList();
  }
}
