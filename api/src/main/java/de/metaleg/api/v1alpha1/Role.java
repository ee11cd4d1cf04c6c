package de.metaleg.api.v1alpha1;

import java.util.Arrays;
import java.util.Optional;

/** The node's role for one egress entry; the spec carries it as the enum constant's name. */
public enum Role {
  /** This node announces the LB IP: SNAT the sources to it. */
  Gateway,
  /** Another node announces the LB IP: mark the sources' packets and route them there. */
  Forward,
  /** No usable gateway: reject the sources' traffic so nothing leaves with a pod or node IP. */
  Reject;

  /** The role named {@code value} exactly, or empty for anything else (hand-edited plans). */
  public static Optional<Role> parse(String value) {
    return Arrays.stream(values()).filter(r -> r.name().equals(value)).findFirst();
  }
}
