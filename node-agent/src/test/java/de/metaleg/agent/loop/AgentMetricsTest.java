package de.metaleg.agent.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.common.LatencyBuckets;
import java.util.List;
import org.junit.jupiter.api.Test;

class AgentMetricsTest {
  static List<String> lines(String scrape, String prefix) {
    return scrape.lines().filter(l -> l.startsWith(prefix)).toList();
  }

  @Test
  void syncHistogramHasTheFixedBuckets() {
    AgentMetrics m = new AgentMetrics();
    List<String> buckets =
        lines(m.scrape(), "metaleg_agent_sync_duration_seconds_bucket{kind=\"full\"");
    assertEquals(LatencyBuckets.COUNT + 1, buckets.size(), String.join("\n", buckets));
    assertTrue(buckets.get(0).contains("le=\"0.001\""), buckets.get(0));
    assertTrue(buckets.get(LatencyBuckets.COUNT - 1).contains("le=\"16.384\""), buckets.toString());
    assertTrue(buckets.get(LatencyBuckets.COUNT).contains("le=\"+Inf\""));
  }
}
