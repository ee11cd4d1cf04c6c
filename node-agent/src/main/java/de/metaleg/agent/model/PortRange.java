package de.metaleg.agent.model;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A source-port range for SNAT, {@code low-high} as the plan's {@code snatPorts} and both firewall
 * backends write it.
 */
public record PortRange(int low, int high) {
  private static final Pattern TEXT = Pattern.compile("(\\d{1,5})-(\\d{1,5})");

  public PortRange {
    if (low < 1 || high > 65535 || low > high) {
      throw new IllegalArgumentException("not a port range: " + low + "-" + high);
    }
  }

  /** {@code low-high} with {@code 1 <= low <= high <= 65535}; empty for anything else. */
  public static Optional<PortRange> parse(String text) {
    Matcher m = TEXT.matcher(text == null ? "" : text.trim());
    if (!m.matches()) {
      return Optional.empty();
    }
    int low = Integer.parseInt(m.group(1));
    int high = Integer.parseInt(m.group(2));
    return low < 1 || high > 65535 || low > high
        ? Optional.empty()
        : Optional.of(new PortRange(low, high));
  }

  @Override
  public String toString() {
    return low + "-" + high;
  }
}
