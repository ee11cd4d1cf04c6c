package de.metaleg.agent.loop;

import de.metaleg.api.v1alpha1.EgressPlanStatus;

/** Writes the status subresource of this node's EgressPlan. */
public interface StatusSink {
  /** Throws on failure; the loop retries with the next sync or canary tick. */
  void write(String planName, EgressPlanStatus status);
}
