package de.metaleg.agent.kernel;

/**
 * Tells the canary whether nf_tables (the nftables backend's table, iptables-nft's chains) may have
 * changed behind the agent's back since the canary last looked, so that it reads those objects back
 * only then ({@link XtablesMonitor}). Sets (ipset), ip rules and routes are not nf_tables objects:
 * the canary reads them every time.
 */
public interface KernelChanges {
  /** Nothing is known: the canary reads everything every time (iptables-legacy, tests). */
  KernelChanges UNKNOWN = () -> true;

  /**
   * True when the canary must read nf_tables back: a commit by another process was seen since the
   * last call, or nothing is known (watch not running yet, restarted, events lost). Resets.
   */
  boolean changed();

  /**
   * The agent is about to make a large commit of its own (a full nft sync of 40,000 elements): stop
   * listening, since the kernel builds one event per element for a listener (it made that
   * transaction 0.7 → 3.3 s); the next {@link #changed} starts again and returns true.
   */
  default void pause() {}

  /**
   * {@code runner}, with the commits of the commands it runs marked as the agent's own (they are no
   * change the canary must look at: the agent knows what it wrote).
   */
  default CommandRunner own(CommandRunner runner) {
    return runner;
  }
}
