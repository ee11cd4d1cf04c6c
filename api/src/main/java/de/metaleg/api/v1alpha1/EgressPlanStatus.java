package de.metaleg.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** Written only by the node's agent. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class EgressPlanStatus {
  public static final String CONDITION_READY = "Ready";
  public static final String CONDITION_DEGRADED = "Degraded";

  @JsonPropertyDescription("The metadata.generation of the spec the agent last acted on.")
  private Long observedGeneration;

  @JsonPropertyDescription(
      "Ready: the spec of observedGeneration is programmed in the kernel. Degraded: something"
          + " could not be applied (reason and message say what); the last good state stays"
          + " programmed.")
  private List<Condition> conditions = new ArrayList<>();

  @JsonPropertyDescription("Programmed entries with role Gateway.")
  private Integer gatewayEntries;

  @JsonPropertyDescription("Programmed entries with role Forward.")
  private Integer forwardEntries;

  @JsonPropertyDescription("Programmed entries with role Reject.")
  private Integer rejectEntries;

  @JsonPropertyDescription("Firewall backend in use, e.g. iptables-nft, iptables-legacy, nftables.")
  private String firewallBackend;

  @JsonPropertyDescription("Route backend in use, e.g. netlink.")
  private String routeBackend;

  @JsonPropertyDescription("Firewall mark and route table allocated to each gateway node.")
  private List<GatewayAllocation> gateways = new ArrayList<>();

  @JsonPropertyDescription("When the agent last finished a sync (RFC 3339).")
  private String lastSyncTime;

  @JsonPropertyDescription("How long the last sync took, in milliseconds.")
  private Long lastSyncDurationMillis;

  @JsonPropertyDescription("Version of the agent that wrote this status.")
  private String agentVersion;

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  /** The condition of {@code type}, if the agent wrote one (not a property: takes an argument). */
  public Optional<Condition> condition(String type) {
    return conditions.stream().filter(c -> type.equals(c.getType())).findFirst();
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions == null ? new ArrayList<>() : conditions;
  }

  public Integer getGatewayEntries() {
    return gatewayEntries;
  }

  public void setGatewayEntries(Integer gatewayEntries) {
    this.gatewayEntries = gatewayEntries;
  }

  public Integer getForwardEntries() {
    return forwardEntries;
  }

  public void setForwardEntries(Integer forwardEntries) {
    this.forwardEntries = forwardEntries;
  }

  public Integer getRejectEntries() {
    return rejectEntries;
  }

  public void setRejectEntries(Integer rejectEntries) {
    this.rejectEntries = rejectEntries;
  }

  public String getFirewallBackend() {
    return firewallBackend;
  }

  public void setFirewallBackend(String firewallBackend) {
    this.firewallBackend = firewallBackend;
  }

  public String getRouteBackend() {
    return routeBackend;
  }

  public void setRouteBackend(String routeBackend) {
    this.routeBackend = routeBackend;
  }

  public List<GatewayAllocation> getGateways() {
    return gateways;
  }

  public void setGateways(List<GatewayAllocation> gateways) {
    this.gateways = gateways == null ? new ArrayList<>() : gateways;
  }

  public String getLastSyncTime() {
    return lastSyncTime;
  }

  public void setLastSyncTime(String lastSyncTime) {
    this.lastSyncTime = lastSyncTime;
  }

  public Long getLastSyncDurationMillis() {
    return lastSyncDurationMillis;
  }

  public void setLastSyncDurationMillis(Long lastSyncDurationMillis) {
    this.lastSyncDurationMillis = lastSyncDurationMillis;
  }

  public String getAgentVersion() {
    return agentVersion;
  }

  public void setAgentVersion(String agentVersion) {
    this.agentVersion = agentVersion;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EgressPlanStatus s
        && Objects.equals(observedGeneration, s.observedGeneration)
        && Objects.equals(conditions, s.conditions)
        && Objects.equals(gatewayEntries, s.gatewayEntries)
        && Objects.equals(forwardEntries, s.forwardEntries)
        && Objects.equals(rejectEntries, s.rejectEntries)
        && Objects.equals(firewallBackend, s.firewallBackend)
        && Objects.equals(routeBackend, s.routeBackend)
        && Objects.equals(gateways, s.gateways)
        && Objects.equals(lastSyncTime, s.lastSyncTime)
        && Objects.equals(lastSyncDurationMillis, s.lastSyncDurationMillis)
        && Objects.equals(agentVersion, s.agentVersion);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        observedGeneration,
        conditions,
        gatewayEntries,
        forwardEntries,
        rejectEntries,
        firewallBackend,
        routeBackend,
        gateways,
        lastSyncTime,
        lastSyncDurationMillis,
        agentVersion);
  }
}
