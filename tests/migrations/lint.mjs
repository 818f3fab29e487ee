// migrations.lint: lints every migration file (lint_lib.mjs). Exits 1 on
// any finding, and also when squawk is missing or there is nothing to lint.
//
//   node tests/migrations/lint.mjs --squawk .local/node_modules/.bin/squawk --migrations migrations

import path from "node:path";
import { parseArgs } from "node:util";

import { lint } from "./lint_lib.mjs";

const { values } = parseArgs({ options: { squawk: { type: "string" }, migrations: { type: "string" } } });
if (!values.squawk || !values.migrations) {
  console.error("usage: lint.mjs --squawk PATH --migrations DIR");
  process.exit(2);
}
const failures = lint(values.squawk, path.resolve(values.migrations));
if (failures) {
  console.log(`${failures} finding(s); see migrations/README.md (Lint) for what to do`);
  process.exit(1);
}
console.log("migrations lint: all clean");
