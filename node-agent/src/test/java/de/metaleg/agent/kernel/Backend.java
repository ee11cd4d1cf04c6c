package de.metaleg.agent.kernel;

import de.metaleg.agent.render.NodeFacts;

/**
 * The firewall backends the kernel tests run against. Namespaces of the iptables backends are
 * prefixed {@code megA-}, those of the nftables backend {@code megN-}.
 */
enum Backend {
  IPTABLES_NFT(IptablesFlavor.NFT),
  IPTABLES_LEGACY(IptablesFlavor.LEGACY),
  NFTABLES(null);

  private final IptablesFlavor flavor;

  Backend(IptablesFlavor flavor) {
    this.flavor = flavor;
  }

  boolean nft() {
    return flavor == null;
  }

  /** The iptables flavour of the backend, or for nftables the one foreign (CNI) rules use. */
  IptablesFlavor iptables() {
    return flavor == null ? IptablesFlavor.NFT : flavor;
  }

  String namespacePrefix() {
    return nft() ? "megN-" : "megA-";
  }

  String shortName() {
    return switch (this) {
      case IPTABLES_NFT -> "nft";
      case IPTABLES_LEGACY -> "leg";
      case NFTABLES -> "nftb";
    };
  }

  Dataplane create(CommandRunner runner, NodeFacts facts) {
    return create(runner, facts, KernelChanges.UNKNOWN);
  }

  Dataplane create(CommandRunner runner, NodeFacts facts, KernelChanges changes) {
    return nft()
        ? new NftDataplane(runner, facts, changes)
        : new IptablesDataplane(runner, flavor, facts, changes);
  }
}
