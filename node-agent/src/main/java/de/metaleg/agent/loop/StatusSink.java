package de.metaleg.agent.loop;

import de.metaleg.api.v1alpha1.EgressPlanStatus;

/**
 * Writes the status subresource of this node's EgressPlan, replacing the whole status and nothing
 * else, without a resourceVersion precondition: the agent is the status' only writer, so a
 * concurrent spec write by the controller must not make it fail.
 */
public interface StatusSink {
  /** Throws on failure; the loop retries with back-off. */
  void write(String planName, EgressPlanStatus status);
}
