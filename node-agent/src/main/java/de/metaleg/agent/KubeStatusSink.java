package de.metaleg.agent;

import de.metaleg.agent.loop.StatusSink;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import io.fabric8.kubernetes.client.KubernetesClient;

/**
 * Writes the status subresource with {@code editStatus}: read the plan, replace its status, send
 * the difference as a JSON patch (lists replaced element by element, spec untouched).
 */
public final class KubeStatusSink implements StatusSink {
  private final KubernetesClient client;

  public KubeStatusSink(KubernetesClient client) {
    this.client = client;
  }

  @Override
  public void write(String planName, EgressPlanStatus status) {
    client
        .resources(EgressPlan.class)
        .withName(planName)
        .editStatus(
            plan -> {
              plan.setStatus(status);
              return plan;
            });
  }
}
