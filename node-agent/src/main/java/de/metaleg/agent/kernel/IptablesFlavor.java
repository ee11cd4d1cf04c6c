package de.metaleg.agent.kernel;

import de.metaleg.agent.model.Family;
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
    java.util.Map<IptablesFlavor, String> saves = new java.util.EnumMap<>(IptablesFlavor.class);
    for (IptablesFlavor flavor : values()) {
      StringBuilder out = new StringBuilder();
      for (Family f : Family.values()) {
        out.append(runner.run(List.of(flavor.save(f))).stdout()).append('\n');
      }
      saves.put(flavor, out.toString());
    }
    for (IptablesFlavor flavor : List.of(NFT, LEGACY)) {
      if (saves.get(flavor).lines().anyMatch(IptablesFlavor::isKubeletHint)) {
        return flavor;
      }
    }
    return rules(saves.get(LEGACY)) > rules(saves.get(NFT)) ? LEGACY : NFT;
  }

  private static boolean isKubeletHint(String line) {
    return line.startsWith(":KUBE-IPTABLES-HINT") || line.startsWith(":KUBE-KUBELET-CANARY");
  }

  private static long rules(String save) {
    return save.lines().filter(l -> l.startsWith("-")).count();
  }
}
