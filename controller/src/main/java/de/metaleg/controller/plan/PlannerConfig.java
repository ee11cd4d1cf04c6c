package de.metaleg.controller.plan;

import java.time.Duration;

/**
 * The part of the controller configuration the planner needs.
 *
 * @param gatewayGracePeriod how long a Service keeps its last gateway after its announcer
 *     disappeared ({@code GATEWAY_GRACE_PERIOD}; zero: reject at once)
 */
public record PlannerConfig(
    String metallbNamespace, boolean filterEndpointsForNode, Duration gatewayGracePeriod) {
  public PlannerConfig {
    if (gatewayGracePeriod == null || gatewayGracePeriod.isNegative()) {
      throw new IllegalArgumentException("gateway grace period must be zero or positive");
    }
  }

  /** Without a grace period: a missing announcer rejects at once. */
  public PlannerConfig(String metallbNamespace, boolean filterEndpointsForNode) {
    this(metallbNamespace, filterEndpointsForNode, Duration.ZERO);
  }
}
