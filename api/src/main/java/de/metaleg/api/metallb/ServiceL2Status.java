package de.metaleg.api.metallb;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * Read-only model of MetalLB's ServiceL2Status (metallb.io/v1beta1): which node announces a
 * Service's LB IP in Layer-2 mode. MetalLB writes status through the status subresource and never
 * changes {@code status.node}; a failover deletes the object and creates a new one ({@code l2-}
 * generated name, in MetalLB's namespace since 0.14.6; in the Service's namespace with label {@code
 * metallb.io/service=<name>} in 0.14.4–0.14.5). Not generated into MetalEG's CRDs: the CRD belongs
 * to MetalLB.
 */
@Group("metallb.io")
@Version("v1beta1")
@Kind("ServiceL2Status")
@Plural("servicel2statuses")
public class ServiceL2Status extends CustomResource<Void, ServiceL2StatusStatus>
    implements Namespaced {
  public static final String LABEL_NODE = "metallb.io/node";
  public static final String LABEL_SERVICE_NAME = "metallb.io/service-name";
  public static final String LABEL_SERVICE_NAMESPACE = "metallb.io/service-namespace";

  /** Label of the 0.14.4–0.14.5 objects, which live in the Service's namespace. */
  public static final String LEGACY_LABEL_SERVICE = "metallb.io/service";
}
