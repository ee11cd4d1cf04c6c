package de.metaleg.lab;

/**
 * Every end-to-end scenario again with the agents on FIREWALL_BACKEND=nftables (one {@code table
 * inet metaleg}), next to the CNI's masquerade in iptables-nft as on a real node.
 */
class EgressNftablesE2EIT extends EgressE2EIT {
  @Override
  String firewallBackend() {
    return "nftables";
  }
}
