package de.metaleg.common;

import java.util.List;

/**
 * One environment variable a component reads: its name, its default ("" means none: unset, or
 * required) and what it does. Each component lists its variables once; the manifests and the README
 * are checked against those lists.
 */
public record EnvVar(String name, String defaultValue, String description) {
  /** The default of {@code name} in {@code variables}; fails for a name that is not listed. */
  public static String defaultOf(List<EnvVar> variables, String name) {
    return variables.stream()
        .filter(v -> v.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("not a listed variable: " + name))
        .defaultValue();
  }
}
