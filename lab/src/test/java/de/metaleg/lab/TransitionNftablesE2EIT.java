package de.metaleg.lab;

/** Every transition scenario again with the agents on FIREWALL_BACKEND=nftables. */
class TransitionNftablesE2EIT extends TransitionE2EIT {
  @Override
  String firewallBackend() {
    return "nftables";
  }
}
