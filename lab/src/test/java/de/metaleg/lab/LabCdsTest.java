package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The lab's CDS archives: written by the first start of a jar version, used by later ones. */
class LabCdsTest {
  @TempDir Path tmp;

  @Test
  void theFirstStartsWriteOneArchivePerJarVersionLaterOnesUseIt() throws Exception {
    Path dir = tmp.resolve("cds");
    Path jar = Files.writeString(tmp.resolve("agent.jar"), "v1");
    List<String> first = Lab.cdsFlags(dir, jar, "node-1");
    List<String> second = Lab.cdsFlags(dir, jar, "node-2");
    assertEquals(1, first.size());
    assertTrue(first.get(0).startsWith("-XX:ArchiveClassesAtExit="), first.toString());
    assertTrue(!first.equals(second), "each JVM writes its own file: " + first + second);
    // what the two JVMs wrote at exit
    Files.writeString(file(first), "archive");
    Files.writeString(file(second), "archive 2");
    Lab.keepArchives(dir);

    List<String> later = Lab.cdsFlags(dir, jar, "node-3");
    assertTrue(later.get(0).startsWith("-XX:SharedArchiveFile="), later.toString());
    Path shared = file(later);
    assertEquals("archive", Files.readString(shared), "node-1's, the first by name");
    assertEquals(List.of(shared), Files.list(dir).toList(), "the other one is deleted");

    Files.setLastModifiedTime(
        jar, FileTime.fromMillis(Files.getLastModifiedTime(jar).toMillis() + 1000));
    List<String> rebuilt = Lab.cdsFlags(dir, jar, "node-1");
    assertTrue(
        rebuilt.get(0).startsWith("-XX:ArchiveClassesAtExit="), "a new jar version trains again");
  }

  @Test
  void anEmptyArchiveIsNotKept() throws Exception {
    Path dir = tmp.resolve("cds");
    Path jar = Files.writeString(tmp.resolve("controller.jar"), "v1");
    Files.createFile(file(Lab.cdsFlags(dir, jar, "controller"))); // a JVM that died writing it
    Lab.keepArchives(dir);
    assertEquals(List.of(), Files.list(dir).toList());
    assertTrue(Lab.cdsFlags(dir, jar, "controller").get(0).startsWith("-XX:ArchiveClassesAtExit="));
  }

  /** The file a CDS flag names. */
  static Path file(List<String> flags) {
    return Path.of(flags.get(0).substring(flags.get(0).indexOf('=') + 1));
  }
}
