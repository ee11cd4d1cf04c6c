package de.metaleg.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class EgressPlanSpec {
  @JsonPropertyDescription("Name of the node this plan is for; equals metadata.name.")
  private String nodeName;

  @JsonPropertyDescription(
      "Egress entries, one per labelled Service that concerns this node (split in two when the"
          + " node's role differs per address family), sorted by service and role.")
  private List<EgressEntry> entries = new ArrayList<>();

  public EgressPlanSpec() {}

  public EgressPlanSpec(String nodeName, List<EgressEntry> entries) {
    this.nodeName = nodeName;
    this.entries = new ArrayList<>(entries);
  }

  public String getNodeName() {
    return nodeName;
  }

  public void setNodeName(String nodeName) {
    this.nodeName = nodeName;
  }

  public List<EgressEntry> getEntries() {
    return entries;
  }

  public void setEntries(List<EgressEntry> entries) {
    this.entries = entries == null ? new ArrayList<>() : entries;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EgressPlanSpec s
        && Objects.equals(nodeName, s.nodeName)
        && Objects.equals(entries, s.entries);
  }

  @Override
  public int hashCode() {
    return Objects.hash(nodeName, entries);
  }

  @Override
  public String toString() {
    return "EgressPlanSpec{nodeName=" + nodeName + ", entries=" + entries + "}";
  }
}
