package de.metaleg.common;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The bucket bounds of every MetalEG latency histogram: 1 ms x 2^k for k = 0 … 14, i.e. 1 ms to
 * 16.384 s in 15 buckets (plus +Inf), as kube-proxy's {@code sync_proxy_rules_duration_seconds}
 * ({@code ExponentialBuckets(0.001, 2, 15)}). A fixed, small set keeps every histogram at 17 series
 * (15 buckets, +Inf, count; and sum) instead of the ~70 of a percentile histogram.
 */
public final class LatencyBuckets {
  public static final int COUNT = 15;

  private LatencyBuckets() {}

  public static List<Duration> bounds() {
    List<Duration> b = new ArrayList<>(COUNT);
    for (int k = 0; k < COUNT; k++) {
      b.add(Duration.ofMillis(1L << k));
    }
    return List.copyOf(b);
  }

  public static Duration[] array() {
    return bounds().toArray(Duration[]::new);
  }
}
