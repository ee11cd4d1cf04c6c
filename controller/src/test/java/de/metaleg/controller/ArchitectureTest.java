package de.metaleg.controller;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** Planning stays pure: no Kubernetes client, no JOSDK, no processes, no network. */
class ArchitectureTest {
  static final JavaClasses MAIN =
      new ClassFileImporter()
          .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
          .importPackages("de.metaleg.controller");

  @Test
  void planningImportsNeitherTheKubernetesClientNorProcesses() {
    noClasses()
        .that()
        .resideInAPackage("de.metaleg.controller.plan..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.fabric8..", "io.javaoperatorsdk..", "io.micrometer..")
        .orShould()
        .dependOnClassesThat()
        .belongToAnyOf(ProcessBuilder.class, Runtime.class, java.net.http.HttpClient.class)
        .because("the planner is a pure function of records (see shared/STYLE.md)")
        .check(MAIN);
  }

  @Test
  void planningDoesNotReachIntoTheK8sLayer() {
    noClasses()
        .that()
        .resideInAPackage("de.metaleg.controller.plan..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("de.metaleg.controller.k8s..")
        .check(MAIN);
  }
}
