package de.metaleg.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * What one node must program so that pods behind labelled Services egress with their Service's
 * MetalLB Layer-2 IP. Cluster-scoped, one object per node, named after the node. The controller
 * writes {@code spec}; the node's agent writes {@code status}.
 */
@Group(EgressPlan.GROUP)
@Version(EgressPlan.VERSION)
@Kind("EgressPlan")
@Plural("egressplans")
@Singular("egressplan")
@ShortNames("egp")
@AdditionalPrinterColumn(
    name = "Gateway",
    jsonPath = ".status.gatewayEntries",
    type = AdditionalPrinterColumn.Type.INTEGER,
    getDescription = "Entries this node SNATs to the LB IP (it announces the IP)")
@AdditionalPrinterColumn(
    name = "Forwarding",
    jsonPath = ".status.forwardEntries",
    type = AdditionalPrinterColumn.Type.INTEGER,
    getDescription = "Entries this node marks and routes to another gateway node")
@AdditionalPrinterColumn(
    name = "Rejecting",
    jsonPath = ".status.rejectEntries",
    type = AdditionalPrinterColumn.Type.INTEGER,
    getDescription = "Entries whose traffic is rejected because no gateway is usable")
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING,
    getDescription = "The agent has programmed the current spec")
@AdditionalPrinterColumn(
    name = "Backend",
    jsonPath = ".status.firewallBackend",
    type = AdditionalPrinterColumn.Type.STRING,
    priority = 1,
    getDescription = "Firewall backend the agent uses")
@AdditionalPrinterColumn(
    name = "Last-Sync",
    jsonPath = ".status.lastSyncTime",
    type = AdditionalPrinterColumn.Type.DATE,
    priority = 1,
    getDescription = "When the agent last programmed the kernel")
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class EgressPlan extends CustomResource<EgressPlanSpec, EgressPlanStatus> {
  public static final String GROUP = "metaleg.de";
  public static final String VERSION = "v1alpha1";

  /** Label carrying the node name on every plan, for selecting one node's plan. */
  public static final String NODE_LABEL = "metaleg.de/node";

  /**
   * Annotation the controller sets on each plan write that carries a change: the RFC 3339 time of
   * the earliest change (EndpointSlice {@code endpoints.kubernetes.io/last-change-trigger-time},
   * Service or ServiceL2Status write) not yet in a written plan. The agent measures {@code
   * metaleg_network_programming_duration_seconds} from it. Absent when the write carries no tracked
   * change (start-up, resync repairs, Node changes).
   */
  public static final String LAST_CHANGE_TRIGGER_TIME = "metaleg.de/last-change-trigger-time";

  /** Label on a Service that opts it in. */
  public static final String SERVICE_OPT_IN_LABEL = "metaleg.de/rewriteSrcIP";

  public EgressPlan() {}

  public static EgressPlan forNode(String node, EgressPlanSpec spec) {
    EgressPlan plan = new EgressPlan();
    ObjectMeta meta = new ObjectMeta();
    meta.setName(node);
    meta.setLabels(new java.util.TreeMap<>(java.util.Map.of(NODE_LABEL, node)));
    plan.setMetadata(meta);
    plan.setSpec(spec);
    return plan;
  }
}
