package de.metaleg.deploy;

import static de.metaleg.deploy.Manifests.CONFIG;
import static de.metaleg.deploy.Manifests.ROOT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import de.metaleg.agent.loop.AgentMetrics;
import de.metaleg.controller.ControllerConfig;
import de.metaleg.controller.k8s.ControllerMetrics;
import de.metaleg.controller.plan.PlanningState;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * config/prometheus/ against itself, promtool, the runbooks and the code: the PrometheusRule is the
 * rules file, promtool accepts the rules and their unit tests pass, every alert has a firing and a
 * quiet unit test and a runbook section, and every metric the rules and the dashboard name is one
 * the code exports (or listed in rules/metrics-not-yet-exported.txt).
 *
 * <p>promtool (Debian package {@code prometheus}; scripts/test installs it) missing: the promtool
 * tests skip with a message, except under {@code CI=true} or {@code
 * -Dmetaleg.kernelTests=required}, where they fail.
 */
class PrometheusRulesTest {
  static final Path PROM = CONFIG.resolve("prometheus");
  static final Path RULES = PROM.resolve("rules/metaleg.rules.yaml");
  static final Path RULE_TESTS = PROM.resolve("rules/metaleg.rules.test.yaml");
  static final Path NOT_YET_EXPORTED = PROM.resolve("rules/metrics-not-yet-exported.txt");
  static final Path PROMETHEUS_RULE = PROM.resolve("prometheusrule.yaml");
  static final Path DASHBOARD = PROM.resolve("grafana/metaleg-dashboard.json");
  static final Path PLAIN_CONFIG = PROM.resolve("plain/prometheus.yml");
  static final Path RUNBOOKS = ROOT.resolve("docs/observability.md");
  static final Path TARGET = Path.of("target").toAbsolutePath();

  static final String PROMETHEUS_RULE_HEADER =
      """
      # GENERATED from rules/metaleg.rules.yaml (the source of truth; edit that file). PrometheusRulesTest
      # (deploy module) fails when this spec differs and writes the expected file to
      # deploy/target/prometheusrule.yaml.
      apiVersion: monitoring.coreos.com/v1
      kind: PrometheusRule
      metadata:
        name: metaleg
        namespace: metallb-system
        labels:
          app.kubernetes.io/name: metaleg
      spec:
      """;

  /** Metric names as the rules and dashboard write them; histogram/summary suffixes stripped. */
  static final Pattern METRIC = Pattern.compile("\\b((?:metaleg|operator_sdk)_[a-z0-9_]+)\\b");

  // ------------------------------------------------------------------ one source of truth

  @Test
  void prometheusRuleIsTheRulesFileWrapped() throws IOException {
    String rules = Manifests.read(RULES);
    Matcher groups = Pattern.compile("(?m)^groups:").matcher(rules);
    assertTrue(groups.find(), RULES + " has a top-level groups:");
    StringBuilder expected = new StringBuilder(PROMETHEUS_RULE_HEADER);
    rules
        .substring(groups.start())
        .lines()
        .forEach(l -> expected.append(l.isBlank() ? "" : "  " + l).append('\n'));
    String actual = Manifests.read(PROMETHEUS_RULE);
    if (!expected.toString().equals(actual)) {
      Files.createDirectories(TARGET);
      Files.writeString(TARGET.resolve("prometheusrule.yaml"), expected);
      fail(
          PROMETHEUS_RULE
              + " is not "
              + RULES
              + " wrapped in a PrometheusRule; regenerate it: cp deploy/target/prometheusrule.yaml "
              + "config/prometheus/prometheusrule.yaml");
    }
    // and it parses to the same groups
    assertEquals(
        yaml(RULES).get("groups"), ((Map<?, ?>) yaml(PROMETHEUS_RULE).get("spec")).get("groups"));
  }

  // ------------------------------------------------------------------ promtool

  @Test
  void promtoolAcceptsTheRulesAndItsUnitTestsPass() {
    String promtool = promtool();
    run(RULES.getParent(), promtool, "check", "rules", RULES.getFileName().toString());
    String out =
        run(RULES.getParent(), promtool, "test", "rules", RULE_TESTS.getFileName().toString());
    assertTrue(out.contains("SUCCESS"), out);
  }

  /**
   * The Debian promtool is built without Kubernetes discovery, so the kubernetes_sd_configs block
   * is swapped for a static target; the relabelling, the rule_files path and the rest are checked.
   */
  @Test
  void plainScrapeConfigIsValid() throws IOException {
    String promtool = promtool();
    String text = Manifests.read(PLAIN_CONFIG);
    String sd =
        "    kubernetes_sd_configs:\n"
            + "      - role: endpoints\n"
            + "        namespaces:\n"
            + "          names: [metallb-system]\n";
    assertTrue(text.contains(sd), PLAIN_CONFIG + " discovers the metrics Services' endpoints");
    Path dir = Files.createDirectories(TARGET.resolve("plain-prometheus/plain"));
    Files.createDirectories(dir.resolveSibling("rules"));
    Files.copy(
        RULES,
        dir.resolveSibling("rules").resolve(RULES.getFileName()),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.writeString(
        dir.resolve("prometheus.yml"),
        text.replace(sd, "    static_configs:\n      - targets: [\"127.0.0.1:21793\"]\n"));
    String out = run(dir, promtool, "check", "config", "prometheus.yml");
    assertTrue(out.contains("1 rule files found"), out);
  }

  // ------------------------------------------------------------------ coverage and runbooks

  @Test
  void everyAlertHasAFiringAndAQuietUnitTest() {
    Set<String> firing = new TreeSet<>();
    Set<String> quiet = new TreeSet<>();
    for (Map<?, ?> test : list(yaml(RULE_TESTS).get("tests"))) {
      for (Map<?, ?> t : list(test.get("alert_rule_test"))) {
        String name = (String) t.get("alertname");
        (list(t.get("exp_alerts")).isEmpty() ? quiet : firing).add(name);
      }
    }
    Set<String> alerts = alerts().keySet();
    assertEquals(alerts, firing, "alerts with a unit test where they fire");
    assertEquals(alerts, quiet, "alerts with a unit test where they stay quiet");
  }

  @Test
  void everyAlertHasASeveritySummaryAndRunbookSection() {
    Set<String> anchors =
        Manifests.read(RUNBOOKS)
            .lines()
            .filter(l -> l.startsWith("#"))
            .map(PrometheusRulesTest::githubAnchor)
            .collect(Collectors.toSet());
    alerts()
        .forEach(
            (name, rule) -> {
              Map<?, ?> labels = (Map<?, ?>) rule.get("labels");
              Map<?, ?> annotations = (Map<?, ?>) rule.get("annotations");
              assertTrue(
                  Set.of("warning", "critical").contains(labels.get("severity")),
                  name + " severity");
              assertTrue(annotations.get("summary") instanceof String, name + " summary");
              String anchor = name.toLowerCase(Locale.ROOT);
              assertEquals(
                  "docs/observability.md#" + anchor, annotations.get("runbook"), name + " runbook");
              assertTrue(anchors.contains(anchor), "docs/observability.md has a section " + name);
            });
  }

  // ------------------------------------------------------------------ metric names vs code

  @Test
  void rulesAndDashboardNameOnlyMetricsTheCodeExports() throws IOException {
    Set<String> used = new TreeSet<>(metricNames(Manifests.read(RULES)));
    for (String expr : dashboardExpressions()) {
      used.addAll(metricNames(expr));
    }
    Set<String> exported = exportedByMetaleg();
    Set<String> notYet = notYetExported().keySet();
    Set<String> unknown = new TreeSet<>();
    for (String name : used) {
      if (name.startsWith("operator_sdk_")) {
        continue; // JOSDK's, registered on first use: PrometheusE2EIT checks them live
      }
      if (!exported.contains(name) && !notYet.contains(name)) {
        unknown.add(name);
      }
    }
    assertEquals(
        Set.of(), unknown, "metrics used but not exported (the code exports " + exported + ")");
    Set<String> nowExported = new TreeSet<>(notYet);
    nowExported.retainAll(exported);
    assertEquals(
        Set.of(),
        nowExported,
        "exported now: delete them from " + NOT_YET_EXPORTED + " so the checks cover them");
    Set<String> unused = new TreeSet<>(notYet);
    unused.removeAll(used);
    assertEquals(Set.of(), unused, NOT_YET_EXPORTED + " lists names nothing uses");
  }

  @Test
  void everyDashboardPanelHasAQueryAndTheTemplatedDatasource() {
    Map<?, ?> d = Serialization.unmarshal(Manifests.read(DASHBOARD), Map.class);
    int panels = 0;
    for (Map<?, ?> p : list(d.get("panels"))) {
      if ("row".equals(p.get("type"))) {
        continue;
      }
      panels++;
      List<Map<?, ?>> targets = list(p.get("targets"));
      assertFalse(targets.isEmpty(), p.get("title") + " has queries");
      for (Map<?, ?> t : targets) {
        assertEquals(
            "${datasource}", ((Map<?, ?>) t.get("datasource")).get("uid"), "" + p.get("title"));
        assertTrue(t.get("expr") instanceof String s && !s.isBlank(), p.get("title") + " expr");
      }
    }
    assertTrue(panels >= 10, "panels: " + panels);
  }

  // ------------------------------------------------------------------ helpers

  /** Sample names the agent's and the controller's registries export, with nothing happened yet. */
  static Set<String> exportedByMetaleg() {
    AgentMetrics agent = new AgentMetrics();
    agent.watchConnected(() -> true);
    agent.conntrackDeletions(() -> 0L); // AgentMain registers these two with the dataplane
    agent.guardDrops(guard -> 0L);
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    ControllerMetrics controller =
        new ControllerMetrics(
            registry, new PlanningState(ControllerConfig.fromEnv(Map.of()).plannerConfig()));
    controller.planWritten("create"); // registered on the first write
    // per-Service series, registered for each labelled, usable Service
    controller.gatewayServices(Set.of(new de.metaleg.controller.plan.ServiceKey("ns", "web")));
    Set<String> names = new TreeSet<>();
    for (String scrape : List.of(agent.scrape(), registry.scrape())) {
      scrape
          .lines()
          .filter(l -> !l.startsWith("#") && !l.isBlank())
          .map(l -> l.split("[{ ]", 2)[0])
          .forEach(n -> names.add(n));
    }
    return names;
  }

  /** name → labels the rules or dashboard rely on; also read by the lab's PrometheusE2EIT. */
  static Map<String, List<String>> notYetExported() {
    Map<String, List<String>> m = new TreeMap<>();
    for (String line : Manifests.read(NOT_YET_EXPORTED).lines().toList()) {
      String l = line.strip();
      if (!l.isEmpty() && !l.startsWith("#")) {
        List<String> parts = List.of(l.split("\\s+"));
        m.put(parts.get(0), parts.subList(1, parts.size()));
      }
    }
    return m;
  }

  static Set<String> metricNames(String text) {
    Set<String> names = new TreeSet<>();
    Matcher m = METRIC.matcher(text.replaceAll("(?m)#.*$", ""));
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  static List<String> dashboardExpressions() {
    Map<?, ?> d = Serialization.unmarshal(Manifests.read(DASHBOARD), Map.class);
    List<String> exprs = new ArrayList<>();
    for (Map<?, ?> p : list(d.get("panels"))) {
      for (Map<?, ?> t : list(p.get("targets"))) {
        exprs.add((String) t.get("expr"));
      }
    }
    return exprs;
  }

  static Map<String, Map<?, ?>> alerts() {
    Map<String, Map<?, ?>> alerts = new TreeMap<>();
    for (Map<?, ?> g : list(yaml(RULES).get("groups"))) {
      for (Map<?, ?> r : list(g.get("rules"))) {
        if (r.get("alert") instanceof String name) {
          assertTrue(alerts.put(name, r) == null, "alert " + name + " defined once");
        }
      }
    }
    assertFalse(alerts.isEmpty());
    return alerts;
  }

  /** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
  static String githubAnchor(String heading) {
    return heading
        .replaceFirst("^#+\\s*", "")
        .toLowerCase(Locale.ROOT)
        .replaceAll("[^a-z0-9 _-]", "")
        .replace(' ', '-');
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> yaml(Path file) {
    return Serialization.unmarshal(Manifests.read(file), Map.class);
  }

  @SuppressWarnings("unchecked")
  static List<Map<?, ?>> list(Object o) {
    return o == null ? List.of() : (List<Map<?, ?>>) o;
  }

  /** promtool's path; skips or (CI, metaleg.kernelTests=required) fails when it is missing. */
  static String promtool() {
    Optional<Path> found =
        List.of(System.getenv().getOrDefault("PATH", "").split(":")).stream()
            .map(d -> Path.of(d, "promtool"))
            .filter(Files::isExecutable)
            .findFirst();
    if (found.isPresent()) {
      return found.get().toString();
    }
    String why = "promtool not installed (Debian package prometheus; scripts/test installs it)";
    if ("true".equals(System.getenv("CI"))
        || "required".equals(System.getProperty("metaleg.kernelTests"))) {
      fail("promtool is required here (CI=true or metaleg.kernelTests=required): " + why);
    }
    Assumptions.abort("skipping the promtool checks: " + why);
    return null;
  }

  static String run(Path dir, String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", cmd) + " timed out");
      assertEquals(
          0, p.exitValue(), "(cd " + dir + " && " + String.join(" ", cmd) + ") failed:\n" + out);
      return out;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
