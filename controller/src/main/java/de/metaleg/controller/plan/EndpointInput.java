package de.metaleg.controller.plan;

/**
 * One address of one endpoint of an EndpointSlice, unparsed. {@code nodeName} and {@code podName}
 * (the endpoint's targetRef when it is a Pod) may be null.
 */
public record EndpointInput(String address, String nodeName, String podName) {}
