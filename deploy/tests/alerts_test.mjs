// deploy.alerts: the PrometheusRule of deploy/monitoring is a well-formed
// operator object, its `spec` passes `promtool check rules`, every alert
// behaves as deploy/tests/alerts_rules_test.yaml says (`promtool test
// rules`), that unit test shows each alert both firing and not firing, and
// every expression names only metrics the services expose.
//
// The PrometheusRule is the one source of truth: promtool reads plain rule
// files (top-level `groups:`), so its spec is written to a temporary
// directory, next to a copy of the unit test file that names it.
//
//   node deploy/tests/alerts_test.mjs --promtool /usr/bin/promtool \
//       --rule deploy/monitoring/prometheus-rule.yaml --unit deploy/tests/alerts_rules_test.yaml

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { test } from "node:test";

import { importTool, readYamlFile } from "./lib/env.mjs";
import { KNOWN_METRICS, metricNames } from "./lib/metric_names.mjs";

const { values } = parseArgs({
  options: { promtool: { type: "string" }, rule: { type: "string" }, unit: { type: "string" } },
});
if (!values.promtool || !values.rule || !values.unit) {
  console.error("usage: alerts_test.mjs --promtool PATH --rule PROMETHEUSRULE.yaml --unit PROMTOOL_TEST.yaml");
  process.exit(2);
}

// The file name the unit test's rule_files must give.
const RULES_FILE = "microblog-alerts.rules.yaml";
const RULE_KEYS = new Set(["alert", "expr", "for", "keep_firing_for", "labels", "annotations"]);
const SEVERITIES = new Set(["critical", "warning", "info"]);
const ANNOTATIONS = ["summary", "description", "runbook"];

const docs = await readYamlFile(values.rule);
const unit = (await readYamlFile(values.unit))[0];
const YAML = await importTool("yaml/dist/index.js").then((m) => m.default ?? m);
const rule = docs[0];
const alerts = (rule?.spec?.groups ?? []).flatMap((g) => g.rules ?? []).filter((r) => r.alert);

function promtool(args, cwd) {
  try {
    return execFileSync(values.promtool, args, { cwd, encoding: "utf8", stdio: "pipe" });
  } catch (err) {
    if (err.code === "ENOENT") throw new Error(`promtool not found at ${values.promtool}: run scripts/install-deps.sh`);
    throw new Error(`promtool ${args.join(" ")} failed (exit ${err.status}):\n${err.stdout}${err.stderr}`);
  }
}

// Runs promtool `args` in a temporary directory holding the extracted rules
// and the unit test side by side, as promtool wants them.
function promtoolOnExtracted(args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "microblog-alerts-"));
  try {
    fs.writeFileSync(path.join(dir, RULES_FILE), YAML.stringify(rule.spec));
    fs.copyFileSync(values.unit, path.join(dir, path.basename(values.unit)));
    return promtool(args, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("one PrometheusRule with only rule groups; every rule an alert with for, severity and runbook", () => {
  const problems = [];
  if (docs.length !== 1) problems.push(`${values.rule}: ${docs.length} documents, expected one`);
  if (rule?.apiVersion !== "monitoring.coreos.com/v1" || rule?.kind !== "PrometheusRule") {
    problems.push(`${values.rule}: ${rule?.apiVersion} ${rule?.kind}, expected monitoring.coreos.com/v1 PrometheusRule`);
  }
  if (!rule?.metadata?.name) problems.push("no metadata.name");
  for (const key of Object.keys(rule?.spec ?? {})) if (key !== "groups") problems.push(`unknown spec field ${key}`);
  if (alerts.length === 0) problems.push("no alerts");
  for (const group of rule?.spec?.groups ?? []) {
    for (const r of group.rules ?? []) {
      const name = r.alert ?? r.record;
      for (const key of Object.keys(r)) if (!RULE_KEYS.has(key)) problems.push(`${name}: unknown field ${key}`);
      if (!r.alert) problems.push(`${name}: not an alert (recording rules would need their own tests)`);
      if (!/^\d+[smh]$/.test(r.for ?? "")) problems.push(`${name}: no \`for:\` duration`);
      if (!SEVERITIES.has(r.labels?.severity)) problems.push(`${name}: severity ${r.labels?.severity} not one of ${[...SEVERITIES]}`);
      for (const a of ANNOTATIONS) if (!r.annotations?.[a]) problems.push(`${name}: no ${a} annotation`);
    }
  }
  assert.deepEqual(problems, []);
});

test("every expression names only metrics the services expose", () => {
  const problems = [];
  for (const a of alerts) {
    const names = metricNames(a.expr);
    if (names.length === 0) problems.push(`${a.alert}: no metric found in ${a.expr}`);
    for (const name of names) if (!KNOWN_METRICS.has(name)) problems.push(`${a.alert}: unknown metric ${name}`);
  }
  assert.deepEqual(problems, []);
});

test("the metric name finder sees through functions, matchers, label lists and ranges", () => {
  const expr = `histogram_quantile(0.99, sum by (le, grpc_method) (rate(grpc_server_handling_seconds_bucket{grpc_method!~"A|b_total"}[5m] offset 1h)))
    / on (pod) group_left (version) microblog_build_info and typo_total > bool 1e3`;
  assert.deepEqual(metricNames(expr).sort(), ["grpc_server_handling_seconds_bucket", "microblog_build_info", "typo_total"]);
});

test("promtool check rules", () => {
  promtoolOnExtracted(["check", "rules", RULES_FILE]);
});

test("promtool test rules", () => {
  assert.deepEqual(unit?.rule_files, [RULES_FILE], `${values.unit}: rule_files must be [${RULES_FILE}]`);
  promtoolOnExtracted(["test", "rules", path.basename(values.unit)]);
});

test("the unit test shows every alert firing and not firing, and only alerts that exist", () => {
  const cases = (unit?.tests ?? []).flatMap((t) => t.alert_rule_test ?? []);
  const names = new Set(alerts.map((a) => a.alert));
  const problems = [];
  for (const name of names) {
    const mine = cases.filter((c) => c.alertname === name);
    if (!mine.some((c) => (c.exp_alerts ?? []).length > 0)) problems.push(`${name}: no case where it fires`);
    if (!mine.some((c) => (c.exp_alerts ?? []).length === 0)) problems.push(`${name}: no case where it stays silent`);
    for (const c of mine) {
      for (const e of c.exp_alerts ?? []) {
        if (!e.exp_labels?.severity) problems.push(`${name} at ${c.eval_time}: expected alert without its labels`);
      }
    }
  }
  // An unknown name would pass as "never fires".
  for (const c of cases) if (!names.has(c.alertname)) problems.push(`case for unknown alert ${c.alertname}`);
  assert.deepEqual(problems, []);
});
