package de.metaleg.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.Objects;

/** The firewall mark and route table one agent allocated to one gateway node. */
public class GatewayAllocation {
  @JsonPropertyDescription("The gateway node.")
  private String node;

  @JsonPropertyDescription("Firewall mark (hex) set on packets routed to this gateway.")
  private String mark;

  @JsonPropertyDescription("Route table holding the default route via the gateway's InternalIP.")
  private Long table;

  public GatewayAllocation() {}

  public GatewayAllocation(String node, String mark, Long table) {
    this.node = node;
    this.mark = mark;
    this.table = table;
  }

  public String getNode() {
    return node;
  }

  public void setNode(String node) {
    this.node = node;
  }

  public String getMark() {
    return mark;
  }

  public void setMark(String mark) {
    this.mark = mark;
  }

  public Long getTable() {
    return table;
  }

  public void setTable(Long table) {
    this.table = table;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GatewayAllocation g
        && Objects.equals(node, g.node)
        && Objects.equals(mark, g.mark)
        && Objects.equals(table, g.table);
  }

  @Override
  public int hashCode() {
    return Objects.hash(node, mark, table);
  }
}
