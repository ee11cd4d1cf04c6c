package de.metaleg.lab;

import org.junit.jupiter.api.Tag;

/**
 * Every transition scenario again with the agents on FIREWALL_BACKEND=nftables. The whole class is
 * a known gap for now (issue 11): besides the three scenarios tagged in {@link TransitionE2EIT},
 * "endpoint leaves and rejoins" and "label removed and re-added" let 1–11 IPv6 packets with a pod
 * source out in one of two runs (2026-12-01), so it is left out of {@code scripts/test}; the
 * nftables transition protocol is covered there by TransitionKernelIT and GuardKernelIT.
 */
@Tag(TransitionE2EIT.KNOWN_GAP)
class TransitionNftablesE2EIT extends TransitionE2EIT {
  @Override
  String firewallBackend() {
    return "nftables";
  }
}
