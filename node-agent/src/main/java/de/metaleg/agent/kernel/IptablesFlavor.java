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

  public static IptablesFlavor detect(CommandRunner runner) {
    for (IptablesFlavor flavor : List.of(NFT, LEGACY)) {
      for (Family f : Family.values()) {
        String out = runner.run(List.of(flavor.save(f), "-t", "mangle")).stdout();
        if (out.lines()
            .anyMatch(
                l -> l.startsWith(":KUBE-IPTABLES-HINT") || l.startsWith(":KUBE-KUBELET-CANARY"))) {
          return flavor;
        }
      }
    }
    return ruleCount(runner, LEGACY) > ruleCount(runner, NFT) ? LEGACY : NFT;
  }

  private static long ruleCount(CommandRunner runner, IptablesFlavor flavor) {
    long n = 0;
    for (Family f : Family.values()) {
      n +=
          runner
              .run(List.of(flavor.save(f)))
              .stdout()
              .lines()
              .filter(l -> l.startsWith("-"))
              .count();
    }
    return n;
  }
}
