package de.metaleg.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Dockerfile as stages of instructions: just as much of the syntax as the images use. Comment
 * lines are dropped (also inside continuations, as BuildKit does), backslash continuations are
 * joined, leading {@code --flag=value} options of FROM/RUN/COPY/ADD are split off. Unknown keywords
 * and instructions before the first FROM fail the parse.
 */
record Dockerfile(List<Dockerfile.Stage> stages) {
  private static final Set<String> KEYWORDS =
      Set.of(
          "FROM",
          "RUN",
          "CMD",
          "LABEL",
          "EXPOSE",
          "ENV",
          "ADD",
          "COPY",
          "ENTRYPOINT",
          "VOLUME",
          "USER",
          "WORKDIR",
          "ARG",
          "ONBUILD",
          "STOPSIGNAL",
          "HEALTHCHECK",
          "SHELL");
  private static final Set<String> WITH_FLAGS = Set.of("FROM", "RUN", "COPY", "ADD");
  private static final Pattern FLAG = Pattern.compile("--([a-z-]+)(?:=(\\S*))?\\s*");
  private static final Pattern KEY_VALUE =
      Pattern.compile("([\\w.-]+)=(\"(?:[^\"\\\\]|\\\\.)*\"|\\S+)\\s*");

  /** One instruction; {@code line} is where it starts (1-based). */
  record Instruction(int line, String keyword, Map<String, String> flags, String args) {
    /** Exec form ({@code ["java", "-jar", ...]}); fails for shell form. */
    List<String> execForm() {
      try {
        return Serialization.jsonMapper().readValue(args, new TypeReference<List<String>>() {});
      } catch (JsonProcessingException e) {
        throw new AssertionError("line " + line + ": " + keyword + " is not exec form: " + args);
      }
    }

    List<String> words() {
      return Arrays.asList(args.trim().split("\\s+"));
    }

    /** LABEL and ENV pairs ({@code key=value}, values maybe quoted), in order. */
    Map<String, String> keyValues() {
      Map<String, String> out = new LinkedHashMap<>();
      Matcher m = KEY_VALUE.matcher(args);
      int at = 0;
      while (at < args.length() && m.find(at) && m.start() == at) {
        String v = m.group(2);
        out.put(m.group(1), v.startsWith("\"") ? v.substring(1, v.length() - 1) : v);
        at = m.end();
      }
      if (at != args.length()) {
        throw new AssertionError("line " + line + ": not key=value pairs: " + args);
      }
      return out;
    }

    /**
     * The shell command lines of a RUN, split on {@code &&}, {@code ||}, {@code ;} and pipes, each
     * as its words with leading {@code VAR=value} assignments dropped.
     */
    List<List<String>> commands() {
      List<List<String>> out = new ArrayList<>();
      for (String part : args.split("&&|\\|\\||;|\\|")) {
        List<String> words = new ArrayList<>(Arrays.asList(part.trim().split("\\s+")));
        words.removeIf(String::isEmpty);
        while (!words.isEmpty() && words.get(0).matches("[A-Za-z_]+=.*")) {
          words.remove(0);
        }
        if (!words.isEmpty()) {
          out.add(words);
        }
      }
      return out;
    }
  }

  /** A build stage: its base image, its {@code AS} name, its instructions after the FROM. */
  record Stage(String image, Optional<String> name, List<Instruction> instructions) {
    List<Instruction> all(String keyword) {
      return instructions.stream().filter(i -> i.keyword().equals(keyword)).toList();
    }

    Optional<Instruction> last(String keyword) {
      List<Instruction> all = all(keyword);
      return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }
  }

  static Dockerfile parse(String text) {
    List<Stage> stages = new ArrayList<>();
    List<Instruction> current = null;
    String[] lines = text.split("\n", -1);
    for (int n = 0; n < lines.length; n++) {
      if (lines[n].isBlank() || lines[n].trim().startsWith("#")) {
        continue;
      }
      int start = n + 1;
      StringBuilder logical = new StringBuilder();
      String line = lines[n];
      while (line.stripTrailing().endsWith("\\") && n + 1 < lines.length) {
        String s = line.stripTrailing();
        logical.append(s, 0, s.length() - 1).append(' ');
        do {
          line = lines[++n];
        } while (line.trim().startsWith("#") && n + 1 < lines.length);
      }
      logical.append(line);
      String[] kv = logical.toString().trim().split("\\s+", 2);
      String keyword = kv[0].toUpperCase();
      String rest = kv.length > 1 ? kv[1].trim() : "";
      if (!KEYWORDS.contains(keyword)) {
        throw new IllegalArgumentException("line " + start + ": unknown instruction " + kv[0]);
      }
      Map<String, String> flags = new LinkedHashMap<>();
      Matcher f = FLAG.matcher(rest);
      while (WITH_FLAGS.contains(keyword) && f.lookingAt()) {
        flags.put(f.group(1), f.group(2) == null ? "" : f.group(2));
        rest = rest.substring(f.end());
        f = FLAG.matcher(rest);
      }
      if (keyword.equals("FROM")) {
        String[] w = rest.split("\\s+");
        boolean named = w.length == 3 && w[1].equalsIgnoreCase("AS");
        if (w.length != 1 && !named) {
          throw new IllegalArgumentException("line " + start + ": FROM image [AS name]: " + rest);
        }
        current = new ArrayList<>();
        stages.add(new Stage(w[0], named ? Optional.of(w[2]) : Optional.empty(), current));
      } else if (current == null) {
        throw new IllegalArgumentException("line " + start + ": " + keyword + " before FROM");
      } else {
        current.add(new Instruction(start, keyword, Map.copyOf(flags), rest));
      }
    }
    return new Dockerfile(List.copyOf(stages));
  }

  Stage stage(String name) {
    return stages.stream()
        .filter(s -> s.name().equals(Optional.of(name)))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no stage named " + name));
  }

  /** The last stage: what the image runs. */
  Stage runtime() {
    return stages.get(stages.size() - 1);
  }
}
