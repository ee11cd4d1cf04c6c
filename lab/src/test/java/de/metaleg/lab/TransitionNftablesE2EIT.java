package de.metaleg.lab;

import org.junit.jupiter.api.Tag;

/**
 * Every transition scenario again with the agents on FIREWALL_BACKEND=nftables. The whole class is
 * a known gap for now (issue 11): besides the two scenarios tagged in {@link TransitionE2EIT}, in
 * one of the two runs on 2026-12-01 after the settling guard "label removed and re-added" failed
 * (1a's IPv6 connection stopped answering after the re-label; no leak), so it is left out of {@code
 * scripts/test}; the nftables transition protocol is covered there by TransitionKernelIT and
 * GuardKernelIT.
 */
@Tag(TransitionE2EIT.KNOWN_GAP)
class TransitionNftablesE2EIT extends TransitionE2EIT {
  @Override
  String firewallBackend() {
    return "nftables";
  }
}
