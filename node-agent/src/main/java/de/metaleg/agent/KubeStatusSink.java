package de.metaleg.agent;

import de.metaleg.agent.loop.StatusSink;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.EgressPlanStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.List;
import java.util.Map;

/**
 * One request per write: a JSON patch {@code [{"op":"add","path":"/status","value":…}]} of the
 * status subresource ({@code kubectl patch egp <node> --subresource=status --type=json}). "add" of
 * an existing member replaces it, so the stored status becomes exactly this one. There is no read
 * before and no resourceVersion in the patch, so the write does not conflict (409) with a spec
 * write the controller made in between — unlike {@code editStatus}, whose read-modify-patch did.
 */
public final class KubeStatusSink implements StatusSink {
  private final KubernetesClient client;

  public KubeStatusSink(KubernetesClient client) {
    this.client = client;
  }

  /** The patch body, e.g. for logs and tests. */
  public static String patch(EgressPlanStatus status) {
    return Serialization.asJson(List.of(Map.of("op", "add", "path", "/status", "value", status)));
  }

  @Override
  public void write(String planName, EgressPlanStatus status) {
    client
        .resources(EgressPlan.class)
        .withName(planName)
        .subresource("status")
        .patch(PatchContext.of(PatchType.JSON), patch(status));
  }
}
