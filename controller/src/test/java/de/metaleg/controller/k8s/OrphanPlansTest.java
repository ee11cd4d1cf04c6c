package de.metaleg.controller.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** Which plans {@link OrphanPlans} deletes, with a hand-run executor (nothing runs until run()). */
class OrphanPlansTest {
  final Set<String> nodes = new HashSet<>(Set.of("node-1"));
  final List<String> deleted = new ArrayList<>();
  final AtomicBoolean leading = new AtomicBoolean(true);
  final Queue<Runnable> queued = new ArrayDeque<>();
  final OrphanPlans orphans =
      new OrphanPlans(nodes::contains, deleted::add, leading::get, queued::add);

  void run() {
    while (!queued.isEmpty()) {
      queued.poll().run();
    }
  }

  @Test
  void checkingOnlyQueuesTheDeleteOfAPlanWithoutNode() {
    orphans.check(List.of("node-9", "node-1"));
    assertEquals(List.of(), deleted, "the caller's thread does no I/O");
    run();
    assertEquals(List.of("node-9"), deleted);
  }

  @Test
  void aNodeThatCameBackBeforeItsTurnKeepsItsPlan() {
    orphans.check(List.of("node-2"));
    nodes.add("node-2");
    run();
    assertEquals(List.of(), deleted);
  }

  @Test
  void aNameCheckedTwiceBeforeItsTurnIsDeletedOnceAndAgainWhenCheckedLater() {
    orphans.check(List.of("node-9"));
    orphans.check(List.of("node-9"));
    run();
    assertEquals(List.of("node-9"), deleted);
    orphans.check(List.of("node-9"));
    run();
    assertEquals(List.of("node-9", "node-9"), deleted);
  }

  @Test
  void aFollowerDeletesNothing() {
    leading.set(false);
    orphans.check(List.of("node-9"));
    run();
    assertEquals(List.of(), deleted);
  }
}
