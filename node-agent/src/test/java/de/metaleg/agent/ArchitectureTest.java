package de.metaleg.agent;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** Planning and rendering stay pure: no Kubernetes client, no processes. */
class ArchitectureTest {
  private static final JavaClasses CLASSES =
      new ClassFileImporter()
          .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
          .importPackages("de.metaleg.agent");

  @Test
  void pureCodeImportsNeitherClientNorProcesses() {
    noClasses()
        .that()
        .resideInAnyPackage(
            "de.metaleg.agent.model..", "de.metaleg.agent.plan..", "de.metaleg.agent.render..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.fabric8..", "de.metaleg.agent.kernel..", "de.metaleg.agent.loop..")
        .orShould()
        .dependOnClassesThat()
        .belongToAnyOf(ProcessBuilder.class, Process.class, Runtime.class)
        .check(CLASSES);
  }

  @Test
  void kernelCodeDoesNotTalkToKubernetes() {
    noClasses()
        .that()
        .resideInAnyPackage("de.metaleg.agent.kernel..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.fabric8..", "de.metaleg.agent.loop..")
        .check(CLASSES);
  }
}
