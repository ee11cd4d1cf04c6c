package de.metaleg.agent.render;

/** The mark index (and so mark and table) given to one gateway node. */
public record GatewayAssignment(String node, int index, long mark, long table) {}
