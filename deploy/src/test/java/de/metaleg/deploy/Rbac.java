package de.metaleg.deploy;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import java.util.List;

/** The rules of one component's ClusterRole (cluster-wide) and Role (its own namespace). */
record Rbac(List<PolicyRule> clusterRules, List<PolicyRule> namespaceRules) {
  static Rbac of(List<HasMetadata> objects, String name) {
    List<PolicyRule> cluster =
        objects.stream()
            .filter(ClusterRole.class::isInstance)
            .map(ClusterRole.class::cast)
            .filter(r -> r.getMetadata().getName().equals(name))
            .flatMap(r -> r.getRules().stream())
            .toList();
    List<PolicyRule> namespaced =
        objects.stream()
            .filter(Role.class::isInstance)
            .map(Role.class::cast)
            .filter(r -> r.getMetadata().getName().startsWith(name))
            .flatMap(r -> r.getRules().stream())
            .toList();
    return new Rbac(cluster, namespaced);
  }

  /**
   * Whether a request is allowed. Requests to namespaced resources in the component's own namespace
   * may also be allowed by its Role.
   */
  boolean allows(ApiRequest request, boolean inOwnNamespace) {
    if (matchesAny(clusterRules, request)) {
      return true;
    }
    return request.namespaced() && inOwnNamespace && matchesAny(namespaceRules, request);
  }

  /** Every (verb, group, resource) granted, spelled as {@link ApiRequest#toString()}. */
  java.util.Set<String> grants() {
    java.util.Set<String> all = new java.util.TreeSet<>();
    for (PolicyRule rule :
        java.util.stream.Stream.concat(clusterRules.stream(), namespaceRules.stream()).toList()) {
      for (String g : rule.getApiGroups()) {
        for (String r : rule.getResources()) {
          for (String v : rule.getVerbs()) {
            all.add(new ApiRequest(g, r, false, v).toString());
          }
        }
      }
    }
    return all;
  }

  private static boolean matchesAny(List<PolicyRule> rules, ApiRequest r) {
    return rules.stream()
        .anyMatch(
            rule ->
                rule.getApiGroups().contains(r.group())
                    && rule.getResources().contains(r.resource())
                    && rule.getVerbs().contains(r.verb()));
  }
}
