package de.metaleg.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.jayway.jsonpath.JsonPath;
import de.metaleg.api.v1alpha1.EgressPlan;
import de.metaleg.api.v1alpha1.Role;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class EgressPlanTest {
  static EgressPlan fullPlan() throws Exception {
    try (InputStream in = EgressPlanTest.class.getResourceAsStream("/full-plan.yaml")) {
      return Serialization.unmarshal(in, EgressPlan.class);
    }
  }

  static CustomResourceDefinition crd() throws Exception {
    return Serialization.unmarshal(
        Files.readString(Path.of("../config/crd/egressplans.metaleg.de-v1.yml")),
        CustomResourceDefinition.class);
  }

  @Test
  void yamlRoundTripKeepsEveryField() throws Exception {
    EgressPlan plan = fullPlan();
    EgressPlan again = Serialization.unmarshal(Serialization.asYaml(plan), EgressPlan.class);
    assertEquals(plan.getSpec(), again.getSpec());
    assertEquals(plan.getStatus(), again.getStatus());
    assertEquals(plan.getMetadata(), again.getMetadata());
    assertEquals(3, again.getSpec().getEntries().size());
    assertEquals("fd00:10:244:1::5", again.getSpec().getEntries().get(1).getSourceIPv6s().get(0));
    assertEquals(100001L, again.getStatus().getGateways().get(0).getTable());
  }

  @Test
  void emptyFieldsAreLeftOutOfTheYaml() throws Exception {
    String yaml = Serialization.asYaml(fullPlan());
    // the Reject entry has no gateway and no IPv6 sources: nothing for them is written
    String reject = yaml.substring(yaml.indexOf("shop/cart"));
    assertFalse(reject.substring(0, reject.indexOf("status:")).contains("sourceIPv6s"), yaml);
  }

  @Test
  void everyPrinterColumnYieldsAValueForARealisticPlan() throws Exception {
    String json = Serialization.asJson(fullPlan());
    List<CustomResourceColumnDefinition> columns =
        crd().getSpec().getVersions().get(0).getAdditionalPrinterColumns();
    assertTrue(columns.size() >= 5, "printer columns: " + columns);
    for (CustomResourceColumnDefinition column : columns) {
      Object value = JsonPath.read(json, "$" + column.getJsonPath());
      if (value instanceof List<?> list) {
        assertEquals(1, list.size(), column.getName() + " should select one value: " + list);
        value = list.get(0);
      }
      assertNotNull(value, column.getName());
      assertFalse(value.toString().isBlank(), column.getName());
    }
  }

  @Test
  void crdIdentityIsStable() throws Exception {
    CustomResourceDefinition crd = crd();
    assertEquals("egressplans.metaleg.de", crd.getMetadata().getName());
    assertEquals("Cluster", crd.getSpec().getScope());
    assertEquals("EgressPlan", crd.getSpec().getNames().getKind());
    assertEquals(List.of("egp"), crd.getSpec().getNames().getShortNames());
    assertEquals("v1alpha1", crd.getSpec().getVersions().get(0).getName());
    assertNotNull(crd.getSpec().getVersions().get(0).getSubresources().getStatus());
  }

  @Test
  void rolesParseOnlyExactNames() {
    assertEquals(Optional.of(Role.Forward), Role.parse("Forward"));
    assertEquals(Optional.empty(), Role.parse("forward"));
    assertEquals(Optional.empty(), Role.parse(null));
  }
}
