package de.metaleg.controller;

import de.metaleg.common.BindAddress;
import de.metaleg.common.ConfigException;
import de.metaleg.common.Env;
import de.metaleg.common.EnvVar;
import de.metaleg.controller.plan.PlannerConfig;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The controller's configuration, read once from the environment. Every bad value fails with a
 * {@link ConfigException} naming the variable.
 *
 * @param leaseNamespace POD_NAMESPACE: when set, leader election via a Lease in that namespace
 * @param identity POD_NAME: the leader-election identity (the host name when unset)
 */
public record ControllerConfig(
    String metallbNamespace,
    boolean filterEndpointsForNode,
    Duration reconciliationInterval,
    Duration gatewayGracePeriod,
    Optional<BindAddress> metricsAddress,
    Optional<BindAddress> healthProbeAddress,
    Optional<String> leaseNamespace,
    Optional<String> identity) {

  public static final List<EnvVar> VARIABLES =
      List.of(
          new EnvVar(
              "METALLB_NAMESPACE", "metallb-system", "Namespace of MetalLB's ServiceL2Status"),
          new EnvVar(
              "FILTER_ENDPOINTS_FOR_NODE",
              "true",
              "true: a node's plan lists only its own endpoints; false: every endpoint"),
          new EnvVar("RECONCILIATION_INTERVAL", "5m", "Full resync of every plan"),
          new EnvVar(
              "GATEWAY_GRACE_PERIOD",
              "2s",
              "How long a Service keeps its last gateway when no announcer names one; 0 rejects"
                  + " at once"),
          new EnvVar("METRICS_BIND_ADDRESS", ":21793", "Prometheus /metrics; 0 disables"),
          new EnvVar("HEALTH_PROBE_BIND_ADDRESS", ":21794", "/healthz and /readyz; 0 disables"),
          new EnvVar("POD_NAME", "", "Leader-election identity (Downward API)"),
          new EnvVar("POD_NAMESPACE", "", "Lease namespace; leader election is off when unset"));

  /** The name of the Lease used for leader election. */
  public static final String LEASE_NAME = "metaleg-controller";

  private static final Pattern ZERO = Pattern.compile("0+(ms|s|m|h)?");
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

  public static ControllerConfig fromEnv(Map<String, String> environment) {
    Env env = new Env(environment);
    return new ControllerConfig(
        namespace(env, "METALLB_NAMESPACE", Optional.of(def("METALLB_NAMESPACE"))).orElseThrow(),
        env.bool(
            "FILTER_ENDPOINTS_FOR_NODE", Boolean.parseBoolean(def("FILTER_ENDPOINTS_FOR_NODE"))),
        env.duration("RECONCILIATION_INTERVAL", def("RECONCILIATION_INTERVAL")),
        durationOrZero(env, "GATEWAY_GRACE_PERIOD"),
        env.bindAddress("METRICS_BIND_ADDRESS", def("METRICS_BIND_ADDRESS")),
        env.bindAddress("HEALTH_PROBE_BIND_ADDRESS", def("HEALTH_PROBE_BIND_ADDRESS")),
        namespace(env, "POD_NAMESPACE", Optional.empty()),
        env.optional("POD_NAME"));
  }

  public PlannerConfig plannerConfig() {
    return new PlannerConfig(metallbNamespace, filterEndpointsForNode, gatewayGracePeriod);
  }

  public boolean leaderElection() {
    return leaseNamespace.isPresent();
  }

  private static String def(String name) {
    return EnvVar.defaultOf(VARIABLES, name);
  }

  /** A duration as {@link Env#duration} reads it, where {@code 0} (with or without unit) is off. */
  private static Duration durationOrZero(Env env, String name) {
    String v = env.string(name, def(name));
    if (ZERO.matcher(v).matches()) {
      return Duration.ZERO;
    }
    if (v.startsWith("-")) {
      throw new ConfigException(name, v, "must not be negative (0 turns the grace period off)");
    }
    return env.duration(name, def(name));
  }

  private static Optional<String> namespace(Env env, String name, Optional<String> def) {
    Optional<String> value = env.optional(name).or(() -> def);
    value.ifPresent(
        v -> {
          if (!DNS_LABEL.matcher(v).matches()) {
            throw new ConfigException(name, v, "not a valid namespace name (RFC 1123 label)");
          }
        });
    return value;
  }
}
