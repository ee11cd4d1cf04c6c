package de.metaleg.api.v1alpha1;

import java.util.List;

/**
 * The two halves of the port space a gateway's SNAT gives new TCP connections ({@code
 * spec.entries[].snatPorts}).
 *
 * <p>Why: NAT is bound per connection in conntrack, and a new gateway has none of the previous
 * gateway's entries. Without a split it may SNAT a new connection to the LB IP and a port that a
 * connection bound at the previous gateway still uses towards the same destination; the server then
 * sees a second SYN on an established 4-tuple, and the challenge ACK / RST exchange that follows
 * resets the old connection (shown in the lab: an idle pooled connection dies the moment a pod on
 * the new gateway connects to the same server from its port). Consecutive gateways of an LB IP use
 * different halves, so their new connections cannot collide with each other's.
 */
public final class SnatPorts {
  /** The first gateway's half: above Linux's default ephemeral start, so pod ports mostly stay. */
  public static final String UPPER = "33280-65535";

  /** The half of every second gateway. */
  public static final String LOWER = "1024-33279";

  /** Index = the number of times the gateway moved, modulo 2. */
  public static final List<String> HALVES = List.of(UPPER, LOWER);

  private SnatPorts() {}

  /** The half after {@code moves} moves of the gateway from one node to another. */
  public static String after(long moves) {
    return HALVES.get((int) Math.floorMod(moves, 2L));
  }

  /** How many moves (0 or 1, modulo 2) a plan's half stands for; -1 if it is none of them. */
  public static int parity(String half) {
    return half == null ? -1 : HALVES.indexOf(half);
  }
}
