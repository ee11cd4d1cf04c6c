package de.metaleg.controller.plan;

/** The part of the controller configuration the planner needs. */
public record PlannerConfig(String metallbNamespace, boolean filterEndpointsForNode) {}
