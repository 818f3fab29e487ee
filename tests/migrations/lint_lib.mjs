// lint(): squawk on every .sql file of a migrations tree (PostgreSQL 15,
// the rules of lint_config.mjs) and the expand/contract check of every up
// file (expand_contract.mjs). Run by lint.mjs and by the self-test.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { checkTree, contractStatus, upFiles, UP_FILE_RE } from "./expand_contract.mjs";
import { APPLIED_FILE_EXCLUSIONS, CONTRACT_RULES, GLOBAL_EXCLUDED_RULES, PG_VERSION } from "./lint_config.mjs";

// Every .sql file under `root`, sorted, except the declared schemas of
// schema/: they describe the result and never run on a live table (migrate
// applies them to empty scratch databases only).
function sqlFiles(root) {
  return fs.readdirSync(root, { recursive: true })
    .filter((f) => f.endsWith(".sql") && !f.startsWith(`schema${path.sep}`))
    .sort()
    .map((f) => path.join(root, f));
}

// squawk on one file; returns its report, or null when clean.
function squawk(squawkBin, file, excluded, inTransaction) {
  const args = [
    // All settings are given here; -c /dev/null keeps a stray .squawk.toml
    // from changing them (and --exclude replaces the config's list anyway).
    "-c", "/dev/null",
    `--pg-version=${PG_VERSION}`,
    inTransaction ? "--assume-in-transaction" : "--no-assume-in-transaction",
    `--exclude=${excluded.join(",")}`,
    "--reporter=json",
    file,
  ];
  const run = spawnSync(squawkBin, args, { encoding: "utf8" });
  if (run.error) throw new Error(`cannot run ${squawkBin}: ${run.error.message}`);
  if (run.status === 0) return null;
  let findings;
  try {
    findings = JSON.parse(run.stdout);
  } catch {
    return `${run.stdout}${run.stderr}` || `squawk exited with ${run.status}`;
  }
  // squawk's lines and columns are 0-based.
  return findings.map((f) =>
    `  ${f.file}:${f.line + 1}:${f.column + 1}: ${f.rule_name}: ${f.message}${f.help ? `\n    help: ${f.help}` : ""}`,
  ).join("\n") || `squawk exited with ${run.status}: ${run.stderr}`;
}

// Lints `root`; returns the number of files with findings (or problems),
// counting a missing squawk or an empty tree as one: never a vacuous pass.
// The self-test lints scratch trees with no applied files.
export function lint(squawkBin, root, { appliedExclusions = APPLIED_FILE_EXCLUSIONS, log = console.log } = {}) {
  if (!fs.existsSync(squawkBin)) {
    log(`squawk not found at ${squawkBin}: run scripts/install-deps.sh`);
    return 1;
  }
  const files = sqlFiles(root);
  if (files.length === 0) {
    log(`no .sql files under ${root}`);
    return 1;
  }
  let failed = 0;
  for (const stale of Object.keys(appliedExclusions)) {
    if (!fs.existsSync(path.join(root, stale))) {
      log(`lint_config.mjs names ${stale}, which does not exist`);
      failed++;
    }
  }
  for (const file of files) {
    const rel = path.relative(root, file);
    const sql = fs.readFileSync(file, "utf8");
    const excluded = [...GLOBAL_EXCLUDED_RULES, ...(appliedExclusions[rel] ?? [])];
    if (UP_FILE_RE.test(path.basename(file))) {
      const versions = upFiles(path.dirname(file)).map((u) => u.version);
      if (contractStatus(file, sql, versions).valid) excluded.push(...CONTRACT_RULES);
    }
    // migrate runs each file in one transaction, except those whose first
    // line is `-- migrate:no-transaction` (issue 13).
    const inTransaction = !/^--\s*migrate:no-transaction\b/.test(sql);
    const report = squawk(squawkBin, file, excluded, inTransaction);
    if (report) {
      log(`FAIL squawk ${rel}\n${report.trimEnd()}`);
      failed++;
    } else {
      log(`ok   squawk ${rel}`);
    }
  }
  const problems = checkTree(root);
  for (const p of problems) log(`FAIL expand/contract ${p}`);
  if (problems.length === 0) log("ok   expand/contract: no breaking operation outside a contract step");
  return failed + problems.length;
}
