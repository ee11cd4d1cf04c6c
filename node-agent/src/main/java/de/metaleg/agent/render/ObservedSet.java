package de.metaleg.agent.render;

import de.metaleg.common.net.Family;
import java.util.List;

/** An ipset as read back from the kernel ({@code ipset save}). */
public record ObservedSet(String name, String type, Family family, List<String> members) {
  public ObservedSet {
    members = sortedDistinct(members);
  }

  static List<String> sortedDistinct(List<String> in) {
    String[] a = in.toArray(String[]::new);
    java.util.Arrays.sort(a);
    List<String> out = new java.util.ArrayList<>(a.length);
    for (int i = 0; i < a.length; i++) {
      if (i == 0 || !a[i].equals(a[i - 1])) {
        out.add(a[i]);
      }
    }
    return java.util.Collections.unmodifiableList(out);
  }
}
