package de.metaleg.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Server-side printing for CRDs, as the real API server does for {@code kubectl get}: turns an
 * object or a list into a {@code meta.k8s.io/v1 Table} with the CRD's additionalPrinterColumns.
 * Supports the JSONPath forms CRDs use here: {@code .a.b} and {@code .a.b[?(@.k=="v")].c}.
 */
public final class PrinterColumns {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;
  private static final Pattern FILTER =
      Pattern.compile("([A-Za-z0-9_]+)\\[\\?\\(@\\.([A-Za-z0-9_]+)==\"([^\"]*)\"\\)\\]");

  private PrinterColumns() {}

  public static ObjectNode table(
      JsonNode listOrObject, List<CustomResourceColumnDefinition> columns, Instant now) {
    ObjectNode table = F.objectNode();
    table.put("kind", "Table");
    table.put("apiVersion", "meta.k8s.io/v1");
    table.set("metadata", listOrObject.path("metadata").deepCopy());
    ((ObjectNode) table.get("metadata")).remove(List.of("selfLink"));
    ArrayNode defs = table.putArray("columnDefinitions");
    defs.add(column("Name", "string", "name", "Name of the object", 0));
    for (CustomResourceColumnDefinition c : columns) {
      defs.add(
          column(
              c.getName(),
              c.getType(),
              "",
              c.getDescription() == null ? "" : c.getDescription(),
              c.getPriority() == null ? 0 : c.getPriority()));
    }
    ArrayNode rows = table.putArray("rows");
    List<JsonNode> items =
        listOrObject.has("items") ? iterable(listOrObject.get("items")) : List.of(listOrObject);
    for (JsonNode item : items) {
      ObjectNode row = rows.addObject();
      ArrayNode cells = row.putArray("cells");
      cells.add(item.path("metadata").path("name").asText());
      for (CustomResourceColumnDefinition c : columns) {
        JsonNode v = eval(item, c.getJsonPath());
        if (v == null || v.isMissingNode() || v.isNull()) {
          cells.addNull();
        } else if ("date".equals(c.getType())) {
          cells.add(age(v.asText(), now));
        } else {
          cells.add(v);
        }
      }
      ObjectNode meta = row.putObject("object");
      meta.put("kind", "PartialObjectMetadata");
      meta.put("apiVersion", "meta.k8s.io/v1");
      meta.set("metadata", item.path("metadata").deepCopy());
    }
    return table;
  }

  private static ObjectNode column(
      String name, String type, String format, String description, int priority) {
    ObjectNode c = F.objectNode();
    c.put("name", name);
    c.put("type", type);
    c.put("format", format);
    c.put("description", description);
    c.put("priority", priority);
    return c;
  }

  private static List<JsonNode> iterable(JsonNode array) {
    java.util.ArrayList<JsonNode> out = new java.util.ArrayList<>();
    array.forEach(out::add);
    return out;
  }

  /** Evaluates {@code .a.b} / {@code .a[?(@.k=="v")].b}; null when absent. */
  static JsonNode eval(JsonNode node, String path) {
    JsonNode cur = node;
    for (String part : path.replaceFirst("^\\$?\\.", "").split("\\.(?![^\\[]*\\])")) {
      if (cur == null) {
        return null;
      }
      Matcher m = FILTER.matcher(part);
      if (m.matches()) {
        JsonNode match = null;
        for (JsonNode e : cur.path(m.group(1))) {
          if (m.group(3).equals(e.path(m.group(2)).asText(null))) {
            match = e;
            break;
          }
        }
        cur = match;
      } else {
        cur = cur.get(part);
      }
    }
    return cur;
  }

  /** Like kubectl's human-readable durations: 42s, 5m, 3h, 2d. */
  static String age(String timestamp, Instant now) {
    try {
      Duration d = Duration.between(Instant.parse(timestamp), now);
      long s = Math.max(0, d.toSeconds());
      if (s < 120) {
        return s + "s";
      }
      if (s < 120 * 60) {
        return (s / 60) + "m";
      }
      if (s < 48 * 3600) {
        return (s / 3600) + "h";
      }
      return (s / 86400) + "d";
    } catch (DateTimeParseException e) {
      return timestamp;
    }
  }
}
