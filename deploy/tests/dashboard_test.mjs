// deploy.dashboard: deploy/monitoring/grafana-dashboard.json is valid JSON
// shaped like a Grafana dashboard, and every PromQL expression in it (panel
// targets and query variables) names only metrics the services expose: a
// renamed metric would leave a panel silently empty.
//
//   node deploy/tests/dashboard_test.mjs deploy/monitoring/grafana-dashboard.json

import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";

import { KNOWN_METRICS, metricNames } from "./lib/metric_names.mjs";

const file = process.argv[2];
if (!file) {
  console.error("usage: dashboard_test.mjs DASHBOARD.json");
  process.exit(2);
}

test("the dashboard is JSON with a title, a uid and panels", () => {
  const dashboard = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.ok(dashboard.title && dashboard.uid, "no title or uid");
  assert.ok(Array.isArray(dashboard.panels) && dashboard.panels.length > 0, "no panels");
});

test("every expression names only metrics the services expose", () => {
  const dashboard = JSON.parse(fs.readFileSync(file, "utf8"));
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => [p.title, t.expr])),
    ...(dashboard.templating?.list ?? [])
      .filter((v) => v.type === "query")
      .map((v) => [`variable ${v.name}`, (v.query?.query ?? v.query).replace(/^label_values\((.*),\s*\w+\)$/, "$1")]),
  ];
  const problems = [];
  for (const [where, expr] of exprs) {
    const names = metricNames(expr ?? "");
    if (names.length === 0) problems.push(`${where}: no metric in ${JSON.stringify(expr)}`);
    for (const name of names) if (!KNOWN_METRICS.has(name)) problems.push(`${where}: unknown metric ${name}`);
  }
  assert.deepEqual(problems, []);
});
