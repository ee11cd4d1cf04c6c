package de.metaleg.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Adds what kubectl needs to the fabric8 mock: API discovery ({@code /api}, {@code /apis}, {@code
 * /api/v1}, {@code /apis/GROUP/VERSION}) and server-side printing (Table) for the lab's CRDs, so
 * {@code kubectl get egp} shows the printer columns. Everything else goes to the CRUD dispatcher.
 */
final class LabDispatcher extends Dispatcher {
  /** A served resource type: group/version, plural, kind, scope, short names. */
  record ResourceType(
      String group,
      String version,
      String plural,
      String singular,
      String kind,
      boolean namespaced,
      List<String> shortNames,
      CustomResourceDefinitionVersion crdVersion) {
    String groupVersion() {
      return group.isEmpty() ? version : group + "/" + version;
    }
  }

  private static final Pattern CR_PATH =
      Pattern.compile("/apis/([^/]+)/([^/]+)/(?:namespaces/[^/]+/)?([^/?]+)(/[^/?]+)?/?(\\?.*)?");
  private static final List<String> VERBS =
      List.of("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch");

  private final Dispatcher delegate;
  private final ObjectMapper mapper;
  private final List<ResourceType> types = new ArrayList<>(BUILT_IN);

  static final List<ResourceType> BUILT_IN =
      List.of(
          core("namespaces", "Namespace", false, "ns"),
          core("nodes", "Node", false, "no"),
          core("services", "Service", true, "svc"),
          core("pods", "Pod", true, "po"),
          core("endpoints", "Endpoints", true, "ep"),
          core("events", "Event", true, "ev"),
          core("configmaps", "ConfigMap", true, "cm"),
          new ResourceType(
              "discovery.k8s.io",
              "v1",
              "endpointslices",
              "endpointslice",
              "EndpointSlice",
              true,
              List.of(),
              null),
          new ResourceType(
              "coordination.k8s.io", "v1", "leases", "lease", "Lease", true, List.of(), null),
          new ResourceType(
              "events.k8s.io", "v1", "events", "event", "Event", true, List.of("ev"), null),
          new ResourceType(
              "apiextensions.k8s.io",
              "v1",
              "customresourcedefinitions",
              "customresourcedefinition",
              "CustomResourceDefinition",
              false,
              List.of("crd", "crds"),
              null));

  LabDispatcher(Dispatcher delegate, ObjectMapper mapper) {
    this.delegate = delegate;
    this.mapper = mapper;
  }

  private static ResourceType core(String plural, String kind, boolean namespaced, String s) {
    return new ResourceType(
        "", "v1", plural, kind.toLowerCase(), kind, namespaced, List.of(s), null);
  }

  synchronized void addCrd(CustomResourceDefinition crd) {
    var spec = crd.getSpec();
    for (CustomResourceDefinitionVersion v : spec.getVersions()) {
      types.add(
          new ResourceType(
              spec.getGroup(),
              v.getName(),
              spec.getNames().getPlural(),
              spec.getNames().getSingular(),
              spec.getNames().getKind(),
              "Namespaced".equals(spec.getScope()),
              spec.getNames().getShortNames() == null ? List.of() : spec.getNames().getShortNames(),
              v));
    }
  }

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    if (!"GET".equals(request.getMethod())) {
      return delegate.dispatch(request);
    }
    String path = request.getPath();
    String bare = path.contains("?") ? path.substring(0, path.indexOf('?')) : path;
    try {
      if (bare.equals("/api")) {
        return json(apiVersions());
      }
      if (bare.equals("/apis")) {
        return json(groupList());
      }
      if (bare.equals("/api/v1")) {
        return json(resourceList("v1"));
      }
      String[] parts = bare.split("/");
      if (parts.length == 4 && parts[1].equals("apis")) {
        ObjectNode list = resourceList(parts[2] + "/" + parts[3]);
        return list.get("resources").isEmpty() ? notFound(bare) : json(list);
      }
      String accept = request.getHeader("Accept");
      if (accept != null && accept.contains("as=Table") && !path.contains("watch=")) {
        Matcher m = CR_PATH.matcher(path);
        if (m.matches()) {
          ResourceType t = crdType(m.group(1), m.group(2), m.group(3));
          if (t != null) {
            return table(request, t);
          }
        }
      }
    } catch (Exception e) {
      return new MockResponse().setResponseCode(500).setBody(e.toString());
    }
    return delegate.dispatch(request);
  }

  private synchronized ResourceType crdType(String group, String version, String plural) {
    return types.stream()
        .filter(t -> t.crdVersion() != null)
        .filter(t -> t.group().equals(group) && t.version().equals(version))
        .filter(t -> t.plural().equals(plural))
        .findFirst()
        .orElse(null);
  }

  private MockResponse table(RecordedRequest request, ResourceType t) throws Exception {
    MockResponse plain = delegate.dispatch(request);
    if (plain.code() != 200) {
      return plain;
    }
    JsonNode body = mapper.readTree(plain.getBody().readUtf8());
    var columns =
        t.crdVersion().getAdditionalPrinterColumns() == null
            ? List
                .<io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition>
                    of()
            : t.crdVersion().getAdditionalPrinterColumns();
    return json(PrinterColumns.table(body, columns, Instant.now()));
  }

  private ObjectNode apiVersions() {
    ObjectNode n = mapper.createObjectNode();
    n.put("kind", "APIVersions");
    n.putArray("versions").add("v1");
    ObjectNode cidr = n.putArray("serverAddressByClientCIDRs").addObject();
    cidr.put("clientCIDR", "0.0.0.0/0");
    cidr.put("serverAddress", "");
    return n;
  }

  private synchronized ObjectNode groupList() {
    Map<String, List<String>> groups = new LinkedHashMap<>();
    for (ResourceType t : types) {
      if (!t.group().isEmpty()) {
        List<String> versions = groups.computeIfAbsent(t.group(), g -> new ArrayList<>());
        if (!versions.contains(t.version())) {
          versions.add(t.version());
        }
      }
    }
    ObjectNode n = mapper.createObjectNode();
    n.put("kind", "APIGroupList");
    n.put("apiVersion", "v1");
    ArrayNode arr = n.putArray("groups");
    groups.forEach(
        (g, versions) -> {
          ObjectNode group = arr.addObject();
          group.put("name", g);
          ArrayNode vs = group.putArray("versions");
          for (String v : versions) {
            ObjectNode gv = vs.addObject();
            gv.put("groupVersion", g + "/" + v);
            gv.put("version", v);
          }
          ObjectNode preferred = group.putObject("preferredVersion");
          preferred.put("groupVersion", g + "/" + versions.get(0));
          preferred.put("version", versions.get(0));
        });
    return n;
  }

  private synchronized ObjectNode resourceList(String groupVersion) {
    ObjectNode n = mapper.createObjectNode();
    n.put("kind", "APIResourceList");
    n.put("apiVersion", "v1");
    n.put("groupVersion", groupVersion);
    ArrayNode arr = n.putArray("resources");
    for (ResourceType t : types) {
      if (!t.groupVersion().equals(groupVersion)) {
        continue;
      }
      ObjectNode r = arr.addObject();
      r.put("name", t.plural());
      r.put("singularName", t.singular());
      r.put("namespaced", t.namespaced());
      r.put("kind", t.kind());
      ArrayNode verbs = r.putArray("verbs");
      VERBS.forEach(verbs::add);
      ArrayNode shortNames = r.putArray("shortNames");
      t.shortNames().forEach(shortNames::add);
      if (t.crdVersion() != null
          && t.crdVersion().getSubresources() != null
          && t.crdVersion().getSubresources().getStatus() != null) {
        ObjectNode status = arr.addObject();
        status.put("name", t.plural() + "/status");
        status.put("singularName", "");
        status.put("namespaced", t.namespaced());
        status.put("kind", t.kind());
        status.putArray("verbs").add("get").add("patch").add("update");
      }
    }
    return n;
  }

  private MockResponse json(JsonNode body) throws Exception {
    return new MockResponse()
        .setResponseCode(200)
        .setHeader("Content-Type", "application/json")
        .setBody(mapper.writeValueAsString(body));
  }

  private static MockResponse notFound(String path) {
    return new MockResponse()
        .setResponseCode(404)
        .setHeader("Content-Type", "application/json")
        .setBody(
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404,\"message\":\"the server could not find the requested resource "
                + path
                + "\"}");
  }
}
