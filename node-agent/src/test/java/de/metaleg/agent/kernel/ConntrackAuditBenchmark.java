package de.metaleg.agent.kernel;

import de.metaleg.agent.model.Cidr;
import de.metaleg.agent.render.ConntrackEntry;
import de.metaleg.agent.render.Transition;
import de.metaleg.agent.render.Transition.Forwarded;
import de.metaleg.agent.render.Transition.Treatment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The cost of one conntrack audit (list both families, select, delete in one batch) on a table of N
 * entries of which 100 are stale: run as root, it builds a throwaway namespace {@code megB-ct},
 * loads the entries with {@code conntrack -R} and prints one line per size. Not a test: numbers for
 * docs/benchmarks.md.
 *
 * <pre>
 * mvn -q -pl node-agent -am test-compile dependency:build-classpath \
 *   -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test
 * cd node-agent && java -cp target/test-classes:target/classes:$(cat target/bench.cp) \
 *   de.metaleg.agent.kernel.ConntrackAuditBenchmark 1000 10000 50000
 * </pre>
 */
public final class ConntrackAuditBenchmark {
  private ConntrackAuditBenchmark() {}

  public static void main(String[] args) {
    List<Integer> sizes = new ArrayList<>();
    for (String a : args.length == 0 ? new String[] {"1000", "10000", "50000"} : args) {
      sizes.add(Integer.parseInt(a));
    }
    String ns = "megB-ct";
    ProcessRunner host = ProcessRunner.host();
    host.run(List.of("ip", "netns", "del", ns));
    if (!host.run(List.of("ip", "netns", "add", ns)).ok()) {
      throw new IllegalStateException("needs root: ip netns add " + ns);
    }
    try {
      ProcessRunner node = ProcessRunner.inNamespace(ns);
      Conntrack conntrack = new Conntrack(node);
      List<Cidr> exclude = List.of(Cidr.parse("10.0.0.0/8").orElseThrow());
      System.out.println("entries  stale  list_ms  select_ms  delete_ms  deleted");
      for (int n : sizes) {
        node.run(List.of("conntrack", "-F"));
        StringBuilder load = new StringBuilder();
        Map<String, Treatment> treatments = new HashMap<>();
        for (int i = 0; i < n; i++) {
          String pod = "10.244." + (i / 250 % 250) + "." + (i % 250 + 1);
          int port = 1024 + i % 60000;
          boolean stale = i < 100; // masqueraded flows of sources that are now forwarded
          if (stale) {
            treatments.put(pod, new Forwarded());
          }
          String reply = stale ? "192.0.2.1" : pod;
          load.append(
              "-I -s %s -d 203.0.113.10 -r 203.0.113.10 -q %s -p tcp --sport %d --dport 443"
                      .formatted(pod, reply, port)
                  + " --reply-port-src 443 --reply-port-dst %d --state ESTABLISHED -t 600\n"
                      .formatted(port));
        }
        node.run(List.of("conntrack", "-R", "/dev/stdin"), load.toString());
        long t0 = System.nanoTime();
        List<ConntrackEntry> all = conntrack.list();
        long t1 = System.nanoTime();
        List<ConntrackEntry> stale = Transition.stale(all, treatments, Set.of(), Set.of(), exclude);
        long t2 = System.nanoTime();
        int deleted = conntrack.delete(Transition.deleteLines(all, stale));
        long t3 = System.nanoTime();
        System.out.printf(
            "%7d  %5d  %7d  %9d  %9d  %7d%n",
            all.size(),
            stale.size(),
            (t1 - t0) / 1_000_000,
            (t2 - t1) / 1_000_000,
            (t3 - t2) / 1_000_000,
            deleted);
      }
    } finally {
      host.run(List.of("ip", "netns", "del", ns));
    }
  }
}
