package de.metaleg.agent.model;

import de.metaleg.common.net.Family;
import de.metaleg.common.net.IpAddress;
import java.util.Optional;

/**
 * Left only for {@code DataplaneRenderer}'s quarantine filter, which is being edited elsewhere:
 * replace its call with {@code IpAddress.parse(f, ip).isPresent()} and delete this class. No
 * parsing of its own: {@link IpAddress} is the one model.
 */
public final class IpAddresses {
  private IpAddresses() {}

  /** The canonical form of {@code text} if it is a literal of {@code family}. */
  public static Optional<String> canonical(Family family, String text) {
    return IpAddress.parse(family, text).map(IpAddress::toString);
  }
}
