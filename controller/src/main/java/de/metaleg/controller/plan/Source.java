package de.metaleg.controller.plan;

import de.metaleg.common.net.IpAddress;

/** A parsed endpoint address with the node it runs on and its pod (both may be null). */
public record Source(IpAddress ip, String node, String pod) {
  /** The pod as Events name it: {@code pod ns/name (ip)} or just the address. */
  public String describe(String namespace) {
    return pod == null ? ip.toString() : "pod " + namespace + "/" + pod + " (" + ip + ")";
  }
}
