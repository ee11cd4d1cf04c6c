package de.metaleg.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One Service's egress on one node. Plain POJO for the CRD generator; controller and agent convert
 * it to their own records at the edge.
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public class EgressEntry {
  @Required
  @JsonPropertyDescription("The labelled Service, as namespace/name.")
  private String service;

  @Required
  @JsonPropertyDescription(
      "This node's role for the Service: Gateway (this node announces the LB IP and SNATs the"
          + " sources to it), Forward (mark the sources' packets and route them to the gateway"
          + " node), Reject (no usable gateway: reject the sources' traffic, fail closed).")
  private String role;

  @JsonPropertyDescription(
      "Machine-readable reason for the role, e.g. AnnouncedByThisNode, AnnouncedByOtherNode,"
          + " NoAnnouncer, AnnouncerNodeUnknown, GatewayHasNoInternalIPv4,"
          + " GatewayHasNoInternalIPv6.")
  private String reason;

  @JsonPropertyDescription("Node that announces the LB IP (MetalLB ServiceL2Status), if any.")
  private String gatewayNode;

  @JsonPropertyDescription("InternalIP (IPv4) of the gateway node; the route target for Forward.")
  private String gatewayIPv4;

  @JsonPropertyDescription("InternalIP (IPv6) of the gateway node; the route target for Forward.")
  private String gatewayIPv6;

  @JsonPropertyDescription("The Service's IPv4 LoadBalancer IP: the source address after SNAT.")
  private String snatIPv4;

  @JsonPropertyDescription("The Service's IPv6 LoadBalancer IP: the source address after SNAT.")
  private String snatIPv6;

  @JsonPropertyDescription("Pod IPv4 addresses this entry applies to, sorted.")
  private List<String> sourceIPv4s = new ArrayList<>();

  @JsonPropertyDescription("Pod IPv6 addresses this entry applies to, sorted.")
  private List<String> sourceIPv6s = new ArrayList<>();

  public EgressEntry() {}

  public String getService() {
    return service;
  }

  public void setService(String service) {
    this.service = service;
  }

  public String getRole() {
    return role;
  }

  public void setRole(String role) {
    this.role = role;
  }

  public String getReason() {
    return reason;
  }

  public void setReason(String reason) {
    this.reason = reason;
  }

  public String getGatewayNode() {
    return gatewayNode;
  }

  public void setGatewayNode(String gatewayNode) {
    this.gatewayNode = gatewayNode;
  }

  public String getGatewayIPv4() {
    return gatewayIPv4;
  }

  public void setGatewayIPv4(String gatewayIPv4) {
    this.gatewayIPv4 = gatewayIPv4;
  }

  public String getGatewayIPv6() {
    return gatewayIPv6;
  }

  public void setGatewayIPv6(String gatewayIPv6) {
    this.gatewayIPv6 = gatewayIPv6;
  }

  public String getSnatIPv4() {
    return snatIPv4;
  }

  public void setSnatIPv4(String snatIPv4) {
    this.snatIPv4 = snatIPv4;
  }

  public String getSnatIPv6() {
    return snatIPv6;
  }

  public void setSnatIPv6(String snatIPv6) {
    this.snatIPv6 = snatIPv6;
  }

  public List<String> getSourceIPv4s() {
    return sourceIPv4s;
  }

  public void setSourceIPv4s(List<String> sourceIPv4s) {
    this.sourceIPv4s = sourceIPv4s == null ? new ArrayList<>() : sourceIPv4s;
  }

  public List<String> getSourceIPv6s() {
    return sourceIPv6s;
  }

  public void setSourceIPv6s(List<String> sourceIPv6s) {
    this.sourceIPv6s = sourceIPv6s == null ? new ArrayList<>() : sourceIPv6s;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EgressEntry e
        && Objects.equals(service, e.service)
        && Objects.equals(role, e.role)
        && Objects.equals(reason, e.reason)
        && Objects.equals(gatewayNode, e.gatewayNode)
        && Objects.equals(gatewayIPv4, e.gatewayIPv4)
        && Objects.equals(gatewayIPv6, e.gatewayIPv6)
        && Objects.equals(snatIPv4, e.snatIPv4)
        && Objects.equals(snatIPv6, e.snatIPv6)
        && Objects.equals(sourceIPv4s, e.sourceIPv4s)
        && Objects.equals(sourceIPv6s, e.sourceIPv6s);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        service,
        role,
        reason,
        gatewayNode,
        gatewayIPv4,
        gatewayIPv6,
        snatIPv4,
        snatIPv6,
        sourceIPv4s,
        sourceIPv6s);
  }

  @Override
  public String toString() {
    return "EgressEntry{service="
        + service
        + ", role="
        + role
        + ", reason="
        + reason
        + ", gatewayNode="
        + gatewayNode
        + ", gatewayIPv4="
        + gatewayIPv4
        + ", gatewayIPv6="
        + gatewayIPv6
        + ", snatIPv4="
        + snatIPv4
        + ", snatIPv6="
        + snatIPv6
        + ", sourceIPv4s="
        + sourceIPv4s
        + ", sourceIPv6s="
        + sourceIPv6s
        + "}";
  }
}
