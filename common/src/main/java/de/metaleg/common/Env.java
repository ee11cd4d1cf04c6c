package de.metaleg.common;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads one environment map (System.getenv() in production, a plain map in tests). Every parse
 * error is a {@link ConfigException} naming the variable and the bad value. An empty value counts
 * as unset.
 */
public record Env(Map<String, String> values) {
  private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h)");

  public Env {
    values = Map.copyOf(values);
  }

  public String string(String name, String def) {
    String v = values.get(name);
    return v == null || v.isBlank() ? def : v.trim();
  }

  public Optional<String> optional(String name) {
    return Optional.ofNullable(values.get(name)).map(String::trim).filter(v -> !v.isEmpty());
  }

  public String required(String name) {
    return optional(name)
        .orElseThrow(() -> new ConfigException(name, "", "is required but not set"));
  }

  public boolean bool(String name, boolean def) {
    String v = string(name, Boolean.toString(def)).toLowerCase(Locale.ROOT);
    return switch (v) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new ConfigException(name, values.get(name), "must be true or false");
    };
  }

  public long longValue(String name, long def, long min, long max) {
    String v = string(name, Long.toString(def));
    long n;
    try {
      n =
          v.startsWith("0x") || v.startsWith("0X")
              ? Long.parseLong(v.substring(2), 16)
              : Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new ConfigException(name, v, "not a number");
    }
    if (n < min || n > max) {
      throw new ConfigException(name, v, "must be between " + min + " and " + max);
    }
    return n;
  }

  /** Go-style durations as the users' table writes them: 500ms, 30s, 5m, 1h, or combined 1h30m. */
  public Duration duration(String name, String def) {
    String v = string(name, def);
    Matcher m = DURATION.matcher(v);
    Duration total = Duration.ZERO;
    int end = 0;
    while (m.find() && m.start() == end) {
      long n = Long.parseLong(m.group(1));
      total =
          total.plus(
              switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                default -> Duration.ofHours(n);
              });
      end = m.end();
    }
    if (end == 0 || end != v.length()) {
      throw new ConfigException(name, v, "not a duration (examples: 30s, 5m, 1h30m)");
    }
    if (total.isZero()) {
      throw new ConfigException(name, v, "must be greater than zero");
    }
    return total;
  }

  /** A bind address such as {@code :21793} or {@code 127.0.0.1:21793}; {@code 0} disables. */
  public Optional<BindAddress> bindAddress(String name, String def) {
    return BindAddress.parse(name, string(name, def));
  }
}
