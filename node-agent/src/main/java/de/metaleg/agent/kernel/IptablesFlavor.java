package de.metaleg.agent.kernel;

import de.metaleg.common.net.Family;
import java.util.List;

/**
 * The two iptables implementations. {@link #detect} picks the one the node already uses, as
 * kube-proxy's iptables-wrapper does: a kubelet hint chain decides; otherwise whichever flavour
 * holds more rules wins, nft on a tie (e.g. an empty node).
 */
public enum IptablesFlavor {
  NFT("nft", "iptables-nft"),
  LEGACY("legacy", "iptables-legacy");

  private final String suffix;
  private final String statusName;

  IptablesFlavor(String suffix, String statusName) {
    this.suffix = suffix;
    this.statusName = statusName;
  }

  /** As reported in EgressPlan status.firewallBackend: iptables-nft or iptables-legacy. */
  public String statusName() {
    return statusName;
  }

  public String iptables(Family f) {
    return f.iptables() + "-" + suffix;
  }

  public String restore(Family f) {
    return f.iptables() + "-" + suffix + "-restore";
  }

  public String save(Family f) {
    return f.iptables() + "-" + suffix + "-save";
  }

  /**
   * Reads each flavour's full save output once (never {@code -t TABLE}: naming a table would make
   * iptables-legacy create it as a side effect).
   */
  public static IptablesFlavor detect(CommandRunner runner) {
    // one save output at a time, reduced to counts at once: next to kube-proxy's ruleset for
    // 10,000 Services each is ~15 MB, and holding all four overflowed the DaemonSet's 128 MiB heap
    java.util.Map<IptablesFlavor, Long> rules = new java.util.EnumMap<>(IptablesFlavor.class);
    java.util.Set<IptablesFlavor> hinted = java.util.EnumSet.noneOf(IptablesFlavor.class);
    for (IptablesFlavor flavor : values()) {
      for (Family f : Family.values()) {
        String save = runner.run(List.of(flavor.save(f))).stdout();
        rules.merge(flavor, rules(save), Long::sum);
        if (save.lines().anyMatch(IptablesFlavor::isKubeletHint)) {
          hinted.add(flavor);
        }
      }
    }
    for (IptablesFlavor flavor : List.of(NFT, LEGACY)) {
      if (hinted.contains(flavor)) {
        return flavor;
      }
    }
    return rules.get(LEGACY) > rules.get(NFT) ? LEGACY : NFT;
  }

  private static boolean isKubeletHint(String line) {
    return line.startsWith(":KUBE-IPTABLES-HINT") || line.startsWith(":KUBE-KUBELET-CANARY");
  }

  private static long rules(String save) {
    return save.lines().filter(l -> l.startsWith("-")).count();
  }
}
