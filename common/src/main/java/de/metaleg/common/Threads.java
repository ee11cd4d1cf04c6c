package de.metaleg.common;

import java.util.concurrent.ThreadFactory;

/** Named daemon threads, so a thread dump says which part of MetalEG each thread belongs to. */
public final class Threads {
  private Threads() {}

  /** A factory of daemon threads all called {@code name}. */
  public static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
