package de.metaleg.common;

import java.net.InetSocketAddress;
import java.util.Optional;

/** Where an HTTP endpoint listens; an empty host means all interfaces. */
public record BindAddress(String host, int port) {
  public BindAddress {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port out of range: " + port);
    }
  }

  /** Parses {@code :PORT}, {@code HOST:PORT} or {@code [V6]:PORT}; {@code 0} means disabled. */
  public static Optional<BindAddress> parse(String variable, String value) {
    if (value.equals("0")) {
      return Optional.empty();
    }
    int colon = value.lastIndexOf(':');
    if (colon < 0) {
      throw new ConfigException(variable, value, "expected [host]:port, or 0 to disable");
    }
    String host = value.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(value.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new ConfigException(variable, value, "port is not a number");
    }
    if (port < 1 || port > 65535) {
      throw new ConfigException(variable, value, "port must be 1..65535");
    }
    return Optional.of(new BindAddress(host, port));
  }

  public InetSocketAddress socketAddress() {
    return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
  }

  @Override
  public String toString() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
