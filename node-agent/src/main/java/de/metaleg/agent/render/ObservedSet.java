package de.metaleg.agent.render;

import de.metaleg.agent.model.Family;
import java.util.List;

/** An ipset as read back from the kernel ({@code ipset save}). */
public record ObservedSet(String name, String type, Family family, List<String> members) {
  public ObservedSet {
    members = members.stream().sorted().distinct().toList();
  }
}
