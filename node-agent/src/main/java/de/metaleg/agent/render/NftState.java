package de.metaleg.agent.render;

import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The contents of MetalEG's nftables table ({@code table inet metaleg}) as wanted by one {@link
 * DesiredState}: the mark indices that need a {@code mark-<i>} chain, the element lists of the sets
 * and the key → value pairs of the maps. The base chains' rules do not depend on the plan (see
 * {@link NftPayloads}).
 */
public record NftState(
    SortedSet<Integer> markChains,
    Map<String, List<String>> sets,
    Map<String, Map<String, String>> maps) {
  public NftState {
    markChains = java.util.Collections.unmodifiableSortedSet(new TreeSet<>(markChains));
    TreeMap<String, List<String>> s = new TreeMap<>();
    sets.forEach((k, v) -> s.put(k, List.copyOf(new TreeSet<>(v))));
    sets = java.util.Collections.unmodifiableMap(s);
    TreeMap<String, Map<String, String>> m = new TreeMap<>();
    maps.forEach((k, v) -> m.put(k, java.util.Collections.unmodifiableMap(new TreeMap<>(v))));
    maps = java.util.Collections.unmodifiableMap(m);
  }

  /** Total number of set and map elements. */
  public int elementCount() {
    return sets.values().stream().mapToInt(List::size).sum()
        + maps.values().stream().mapToInt(Map::size).sum();
  }
}
