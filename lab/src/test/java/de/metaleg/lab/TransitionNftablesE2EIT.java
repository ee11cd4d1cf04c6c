package de.metaleg.lab;

/**
 * Every transition scenario again with the agents on FIREWALL_BACKEND=nftables. The scenarios
 * tagged {@link TransitionE2EIT#KNOWN_GAP} there are left out here too (the tag is inherited with
 * the method).
 */
class TransitionNftablesE2EIT extends TransitionE2EIT {
  @Override
  String firewallBackend() {
    return "nftables";
  }
}
