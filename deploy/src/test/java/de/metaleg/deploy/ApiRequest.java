package de.metaleg.deploy;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An API request reduced to what RBAC decides on: API group, resource (with subresource, as {@code
 * egressplans/status}), namespaced or not, and verb.
 */
record ApiRequest(String group, String resource, boolean namespaced, String verb) {
  private static final Pattern PATH =
      Pattern.compile(
          "^/(?:api/v1|apis/([^/]+)/[^/]+)(/namespaces/[^/]+)?/([^/?]+)(?:/([^/?]+))?(?:/([^/?]+))?(?:\\?(.*))?$");

  /** Parses {@code METHOD /path?query}; empty for non-resource paths such as /version. */
  static Optional<ApiRequest> parse(String method, String path) {
    Matcher m = PATH.matcher(path);
    if (!m.matches()) {
      return Optional.empty();
    }
    String group = m.group(1) == null ? "" : m.group(1);
    boolean namespaced = m.group(2) != null;
    String resource = m.group(3);
    String name = m.group(4);
    String sub = m.group(5);
    String query = m.group(6) == null ? "" : m.group(6);
    if (!namespaced && resource.equals("namespaces") && name != null && sub != null) {
      return Optional.empty(); // unreachable with the regex above; kept for clarity
    }
    String verb =
        switch (method) {
          case "GET" -> name == null ? (query.contains("watch=true") ? "watch" : "list") : "get";
          case "POST" -> "create";
          case "PUT" -> "update";
          case "PATCH" -> "patch";
          case "DELETE" -> name == null ? "deletecollection" : "delete";
          default -> method.toLowerCase();
        };
    return Optional.of(
        new ApiRequest(group, sub == null ? resource : resource + "/" + sub, namespaced, verb));
  }

  @Override
  public String toString() {
    return verb + " " + (group.isEmpty() ? "core" : group) + "/" + resource;
  }
}
