package de.metaleg.agent.kernel;

import de.metaleg.agent.render.NftPayloads;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads MetalEG's nftables table back ({@code nft list ...} text output). */
public final class NftReader {
  private static final Pattern OBJECT = Pattern.compile("^(set|map|chain) (\\S+) \\{$");
  private static final Pattern TABLE = Pattern.compile("^table (\\S+) (\\S+) \\{$");

  /**
   * One table as listed: the rules of each chain (header lines such as {@code type ... hook ...}
   * left out, the hook line kept separately) and the elements of each set and map.
   */
  public record ObservedTable(
      Map<String, List<String>> chains,
      Map<String, String> hooks,
      Map<String, List<String>> elements) {}

  private final CommandRunner runner;

  public NftReader(CommandRunner runner) {
    this.runner = runner;
  }

  /** Names of the chains of MetalEG's table (cheap: no rules, no elements); empty when absent. */
  public Set<String> chains() {
    CommandRunner.Result r = runner.run(List.of("nft", "list", "chains", NftPayloads.FAMILY));
    if (!r.ok()) {
      throw new DataplaneException("`nft list chains inet` failed: " + r.stderr().strip());
    }
    return parse(r.stdout())
        .map(t -> (Set<String>) new TreeSet<>(t.chains().keySet()))
        .orElse(Set.of());
  }

  /** MetalEG's whole table, or empty when it does not exist. */
  public Optional<ObservedTable> table() {
    CommandRunner.Result r =
        runner.run(List.of("nft", "list", "table", NftPayloads.FAMILY, NftPayloads.TABLE));
    if (!r.ok()) {
      if (r.stderr().contains("No such file or directory")) {
        return Optional.empty();
      }
      throw new DataplaneException("`nft list table inet metaleg` failed: " + r.stderr().strip());
    }
    return parse(r.stdout());
  }

  /** Pure: MetalEG's table out of {@code nft list ...} output that may hold other tables. */
  public static Optional<ObservedTable> parse(String text) {
    Map<String, List<String>> chains = new LinkedHashMap<>();
    Map<String, String> hooks = new LinkedHashMap<>();
    Map<String, List<String>> elements = new LinkedHashMap<>();
    boolean ours = false;
    boolean found = false;
    String kind = null;
    String name = null;
    StringBuilder collecting = null;
    for (String raw : text.split("\n")) {
      String line = raw.strip();
      Matcher t = TABLE.matcher(line);
      if (t.matches()) {
        ours = t.group(1).equals(NftPayloads.FAMILY) && t.group(2).equals(NftPayloads.TABLE);
        found |= ours;
        continue;
      }
      if (!ours) {
        continue;
      }
      if (collecting != null) {
        collecting.append(' ').append(line);
        if (line.endsWith("}")) {
          elements.put(name, split(collecting.toString()));
          collecting = null;
        }
        continue;
      }
      Matcher o = OBJECT.matcher(line);
      if (o.matches()) {
        kind = o.group(1);
        name = o.group(2);
        if (kind.equals("chain")) {
          chains.put(name, new ArrayList<>());
        } else {
          elements.put(name, new ArrayList<>());
        }
      } else if (line.equals("}")) {
        if (kind == null) {
          ours = false;
        }
        kind = null;
      } else if ("chain".equals(kind)) {
        if (line.startsWith("type ")) {
          hooks.put(name, line);
        } else if (!line.isEmpty()) {
          chains.get(name).add(line);
        }
      } else if (kind != null && line.startsWith("elements = {")) {
        collecting = new StringBuilder(line.substring("elements = {".length()));
        if (line.endsWith("}")) {
          elements.put(name, split(collecting.toString()));
          collecting = null;
        }
      }
    }
    return found ? Optional.of(new ObservedTable(chains, hooks, elements)) : Optional.empty();
  }

  private static List<String> split(String body) {
    String s = body.strip();
    if (s.endsWith("}")) {
      s = s.substring(0, s.length() - 1);
    }
    List<String> out = new ArrayList<>();
    for (String e : s.split(",")) {
      if (!e.isBlank()) {
        out.add(e.strip().replaceAll("\\s+", " "));
      }
    }
    return out;
  }
}
