package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class PrinterColumnsTest {
  static final ObjectMapper M = new ObjectMapper();

  @Test
  void evaluatesPlainAndFilteredPaths() throws Exception {
    JsonNode o =
        M.readTree(
            "{\"status\":{\"n\":3,\"conditions\":[{\"type\":\"Degraded\",\"status\":\"False\"},"
                + "{\"type\":\"Ready\",\"status\":\"True\"}]}}");
    assertEquals(3, PrinterColumns.eval(o, ".status.n").asInt());
    assertEquals(
        "True", PrinterColumns.eval(o, ".status.conditions[?(@.type==\"Ready\")].status").asText());
    assertNull(PrinterColumns.eval(o, ".status.conditions[?(@.type==\"Gone\")].status"));
    assertNull(PrinterColumns.eval(o, ".spec.x"));
  }

  @Test
  void egressPlanListBecomesATableWithTheCrdColumns() throws Exception {
    CustomResourceDefinition crd = LocalApiServer.load("crd/egressplans.metaleg.de-v1.yml");
    JsonNode list =
        M.readTree(
            "{\"kind\":\"EgressPlanList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[{"
                + "\"metadata\":{\"name\":\"node-1\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
                + "\"status\":{\"gatewayEntries\":1,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}]}");
    JsonNode table =
        PrinterColumns.table(
            list,
            crd.getSpec().getVersions().get(0).getAdditionalPrinterColumns(),
            Instant.parse("2026-01-01T00:05:00Z"));
    assertEquals("Table", table.get("kind").asText());
    JsonNode cells = table.get("rows").get(0).get("cells");
    StringBuilder header = new StringBuilder();
    table.get("columnDefinitions").forEach(c -> header.append(c.get("name").asText()).append(' '));
    assertEquals(
        "Name Age Ready Backend Forwarding Gateway Last-Sync Rejecting ", header.toString());
    assertEquals("node-1", cells.get(0).asText());
    assertEquals("5m", cells.get(1).asText());
    assertEquals("True", cells.get(2).asText());
    assertEquals(1, cells.get(5).asInt());
    assertEquals(true, cells.get(6).isNull());
  }
}
