package de.metaleg.agent.render;

import de.metaleg.common.net.Family;
import java.util.List;

/** An ipset MetalEG wants: name, family, type and its members (canonical, sorted). */
public record IpSetSpec(String name, Family family, String type, List<String> members) {
  public static final String HASH_IP = "hash:ip";
  public static final String HASH_NET = "hash:net";

  public IpSetSpec {
    if (!name.startsWith(Names.SET_PREFIX) || name.length() > 31) {
      throw new IllegalArgumentException("not a MetalEG set name: " + name);
    }
    members = ObservedSet.sortedDistinct(members);
  }
}
