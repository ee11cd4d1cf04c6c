package de.metaleg.agent.render;

import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;

/**
 * The contents of MetalEG's nftables table ({@code table inet metaleg}) as wanted by one {@link
 * DesiredState}: the mark indices that need a {@code mark-<i>} chain, the element lists of the sets
 * and the key → value pairs of the maps, and the uplinks of the transit guard. The base chains'
 * rules depend on the plan only through the uplinks, which change only in a full sync (see {@link
 * NftPayloads}).
 */
public record NftState(
    SortedSet<Integer> markChains,
    Map<String, Set<String>> sets,
    Map<String, Map<String, String>> maps,
    java.util.List<String> uplinks) {
  /**
   * Wraps, does not copy: the incremental path compares 40,000 elements per sync, so the
   * collections handed in must not be changed afterwards ({@link NftPayloads#state} builds fresh
   * ones).
   */
  public NftState {
    markChains = Collections.unmodifiableSortedSet(markChains);
    sets = Collections.unmodifiableMap(sets);
    maps = Collections.unmodifiableMap(maps);
    uplinks = java.util.List.copyOf(uplinks);
  }

  /** Total number of set and map elements. */
  public int elementCount() {
    return sets.values().stream().mapToInt(Set::size).sum()
        + maps.values().stream().mapToInt(Map::size).sum();
  }
}
