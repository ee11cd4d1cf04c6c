package de.metaleg.agent.render;

import de.metaleg.common.net.Family;

/** A gateway node in one family, e.g. one whose route could not be installed. */
public record GatewayFamily(String node, Family family) {}
