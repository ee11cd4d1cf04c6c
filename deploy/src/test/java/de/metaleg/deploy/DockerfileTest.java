package de.metaleg.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import de.metaleg.deploy.Dockerfile.Instruction;
import de.metaleg.deploy.Dockerfile.Stage;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The test-side Dockerfile parser that {@link DockerfilesTest} relies on. */
class DockerfileTest {
  static final String SAMPLE =
      """
      # syntax=docker/dockerfile:1
      FROM maven:3.9 AS build
      WORKDIR /src
      RUN mvn -B package

      from eclipse-temurin:17-jre
      LABEL a.title="two words" \\
            a.version=1
      # a comment inside the continuation is dropped
      RUN apt-get update \\
       # dropped too
       && DEBIAN_FRONTEND=noninteractive apt-get install -y x y \\
       && rm -rf /var/lib/apt/lists/*
      COPY --from=build /src/app.jar /opt/app.jar
      ENTRYPOINT ["java", "-jar", "/opt/app.jar"]
      """;

  @Test
  void stagesInstructionsFlagsAndContinuations() {
    Dockerfile d = Dockerfile.parse(SAMPLE);
    assertEquals(2, d.stages().size());
    Stage build = d.stage("build");
    assertEquals("maven:3.9", build.image());
    assertEquals(
        List.of("WORKDIR", "RUN"),
        build.instructions().stream().map(Instruction::keyword).toList());
    Stage runtime = d.runtime();
    assertEquals(Optional.empty(), runtime.name());
    assertEquals("eclipse-temurin:17-jre", runtime.image());
    assertEquals(
        Map.of("a.title", "two words", "a.version", "1"), runtime.all("LABEL").get(0).keyValues());
    Instruction run = runtime.all("RUN").get(0);
    assertEquals(10, run.line());
    assertEquals(
        List.of(
            List.of("apt-get", "update"),
            List.of("apt-get", "install", "-y", "x", "y"),
            List.of("rm", "-rf", "/var/lib/apt/lists/*")),
        run.commands());
    Instruction copy = runtime.all("COPY").get(0);
    assertEquals(Map.of("from", "build"), copy.flags());
    assertEquals(List.of("/src/app.jar", "/opt/app.jar"), copy.words());
    assertEquals(
        List.of("java", "-jar", "/opt/app.jar"), runtime.last("ENTRYPOINT").get().execForm());
  }

  @Test
  void shellFormUnknownKeywordsAndInstructionsBeforeFromAreRejected() {
    Dockerfile shell = Dockerfile.parse("FROM x\nENTRYPOINT java -jar /app.jar\n");
    assertThrows(AssertionError.class, () -> shell.runtime().last("ENTRYPOINT").get().execForm());
    assertThrows(IllegalArgumentException.class, () -> Dockerfile.parse("FROM x\nRUNN true\n"));
    assertThrows(IllegalArgumentException.class, () -> Dockerfile.parse("RUN true\nFROM x\n"));
    assertThrows(
        AssertionError.class,
        () -> Dockerfile.parse("FROM x\nLABEL broken\n").runtime().all("LABEL").get(0).keyValues());
  }
}
