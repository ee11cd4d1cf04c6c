package de.metaleg.controller.plan;

/**
 * Something the planner wants a human to know about a Service: becomes a core/v1 Event on the
 * Service ({@code kubectl describe service} tells the story).
 */
public record Finding(ServiceKey service, Severity severity, String reason, String message) {
  public enum Severity {
    Normal,
    Warning
  }

  public static Finding warning(ServiceKey service, String reason, String message) {
    return new Finding(service, Severity.Warning, reason, message);
  }

  public static Finding normal(ServiceKey service, String reason, String message) {
    return new Finding(service, Severity.Normal, reason, message);
  }
}
