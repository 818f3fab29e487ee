// migrations.lint_selftest: the lint must FAIL on the migrations it guards
// against, so that a green migrations.lint means something. Scratch trees
// in a temp dir go through the same lint() as the real one; the
// expand/contract cases go through checkUpFile() too.
//
//   SQUAWK=.local/node_modules/.bin/squawk node --test tests/migrations/lint_selftest.mjs

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";

import { checkUpFile } from "./expand_contract.mjs";
import { lint } from "./lint_lib.mjs";

const SQUAWK = process.env.SQUAWK;
assert.ok(SQUAWK, "set SQUAWK to the squawk binary");

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "migrations-lint-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

// users exists before the migrations under test, as in migrations/user.
const CREATE_USERS = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n";
const DROP_USERS = "-- squawk-ignore-file ban-drop-table\nDROP TABLE users;\n";

let trees = 0;
// Lints a tree of user/ files ({name: sql}); returns [findings, log].
function lintTree(files, squawk = SQUAWK) {
  const root = path.join(scratch, `t${trees++}`);
  fs.mkdirSync(path.join(root, "user"), { recursive: true });
  const all = { "0001_users.up.sql": CREATE_USERS, "0001_users.down.sql": DROP_USERS, ...files };
  for (const [name, sql] of Object.entries(all)) fs.writeFileSync(path.join(root, "user", name), sql);
  const lines = [];
  const findings = lint(squawk, root, { appliedExclusions: {}, log: (l) => lines.push(l) });
  return [findings, lines.join("\n")];
}

function assertRefused(files, expected) {
  const [findings, log] = lintTree(files);
  assert.ok(findings > 0, `expected a finding, the lint passed:\n${log}`);
  assert.match(log, expected, log);
}

test("a new table, its indexes and its down file pass", () => {
  const [findings, log] = lintTree({
    "0002_notes.up.sql":
      "CREATE TABLE notes (id bigint PRIMARY KEY, user_id bigint NOT NULL, body text NOT NULL);\n" +
      "CREATE INDEX notes_user_idx ON notes (user_id);\n" +
      "ALTER TABLE users ADD COLUMN bio text;\n",
    "0002_notes.down.sql":
      "-- squawk-ignore-file ban-drop-table\nDROP TABLE notes;\n" +
      "-- squawk-ignore ban-drop-column\nALTER TABLE users DROP COLUMN bio;\n",
  });
  assert.equal(findings, 0, log);
});

test("squawk refuses blocking changes to an existing table", () => {
  assertRefused({ "0002_x.up.sql": "CREATE INDEX users_name_idx ON users (name);\n" },
    /require-concurrent-index-creation/);
  assertRefused({ "0002_x.up.sql": "ALTER TABLE users ADD COLUMN x bigint NOT NULL;\n" },
    /adding-required-field/);
  assertRefused({ "0002_x.up.sql": "ALTER TABLE users ADD COLUMN x bigint DEFAULT random();\n" },
    /adding-field-with-default/);
  assertRefused({ "0002_x.up.sql": "ALTER TABLE users ADD CONSTRAINT name_len CHECK (length(name) < 64);\n" },
    /constraint-missing-not-valid/);
  assertRefused({ "0002_x.up.sql": "ALTER TABLE users ADD COLUMN x int NOT NULL DEFAULT 0;\n" },
    /prefer-bigint-over-int/);
});

test("a down file must say why it drops a table", () => {
  assertRefused({ "0001_users.down.sql": "DROP TABLE users;\n" }, /ban-drop-table/);
});

test("CONCURRENTLY only in a no-transaction file", () => {
  // (squawk 2.61 says nothing about a file of one CONCURRENTLY statement.)
  const concurrently = "ALTER TABLE users ADD COLUMN IF NOT EXISTS c text;\n" +
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_c_idx ON users (c);\n";
  assertRefused({ "0002_x.up.sql": concurrently }, /ban-concurrent-index-creation-in-transaction/);
  const [findings, log] = lintTree({ "0002_x.up.sql": `-- migrate:no-transaction\n${concurrently}` });
  assert.equal(findings, 0, log);
});

test("a missing squawk fails, never skips", () => {
  const [findings, log] = lintTree({}, path.join(scratch, "no-such-squawk"));
  assert.ok(findings > 0);
  assert.match(log, /squawk not found/);
});

test("the lint refuses a DROP COLUMN unless it is a contract step", () => {
  const drop = "ALTER TABLE users DROP COLUMN name;\n";
  const expand = { "0002_expand.up.sql": "ALTER TABLE users ADD COLUMN display_name text;\n" };
  assertRefused({ ...expand, "0003_contract.up.sql": drop }, /ban-drop-column[\s\S]*expand\/contract .*DROP COLUMN/);
  const [findings, log] = lintTree({
    ...expand,
    "0003_contract.up.sql": `-- migrate:contract-of 0002 (release 7 reads display_name only)\n${drop}`,
  });
  assert.equal(findings, 0, log);
});

test("the recipes of migrations/README.md pass", () => {
  const [findings, log] = lintTree({
    // Add a NOT NULL column: nullable, backfill, check NOT VALID, VALIDATE.
    "0002_c.up.sql": "ALTER TABLE users ADD COLUMN c bigint;\n",
    "0003_c_check.up.sql": "ALTER TABLE users ADD CONSTRAINT users_c_not_null CHECK (c IS NOT NULL) NOT VALID;\n",
    "0004_c_validate.up.sql": "ALTER TABLE users VALIDATE CONSTRAINT users_c_not_null;\n",
    // A unique constraint from an index built concurrently.
    "0005_c_idx.up.sql": "-- migrate:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_c_key ON users (c);\n",
    "0006_c_unique.up.sql": "ALTER TABLE users ADD CONSTRAINT users_c_key UNIQUE USING INDEX users_c_key;\n",
    // Widening to text, marked and explained.
    "0007_widen.up.sql": "-- migrate:contract-of 0001 (widening: catalog-only, old code checks its own limit)\n" +
      "-- varchar to text is catalog-only in PostgreSQL 15.\n" +
      "-- squawk-ignore changing-column-type\nALTER TABLE users ALTER COLUMN name TYPE text;\n",
    // Drop a column: a default first, the drop in a later release.
    "0008_c_default.up.sql": "ALTER TABLE users ALTER COLUMN c SET DEFAULT 0;\n",
    "0009_drop_c.up.sql": "-- migrate:contract-of 0008 (release 9 no longer reads or writes c)\nALTER TABLE users DROP COLUMN c;\n",
  });
  assert.equal(findings, 0, log);
});

// The expand/contract checker alone, on file 0005 of a directory holding
// 0001..0006.
const VERSIONS = ["0001", "0002", "0003", "0004", "0005", "0006"];
const FILE = "user/0005_change.up.sql";
const check = (sql) => checkUpFile(FILE, sql, VERSIONS);
const marked = (version, sql) => `-- Contract step.\n-- migrate:contract-of ${version} (nothing reads it since release 7)\n${sql}`;

const BREAKING = {
  "DROP COLUMN": "ALTER TABLE users DROP COLUMN name;",
  "DROP without COLUMN": "alter table users drop if exists name cascade;",
  "DROP among other actions": "ALTER TABLE users ADD COLUMN a text, DROP COLUMN name;",
  "RENAME COLUMN": "ALTER TABLE users RENAME COLUMN name TO username;",
  "RENAME COLUMN without COLUMN": "ALTER TABLE users RENAME name TO username;",
  "RENAME table": "ALTER TABLE users RENAME TO accounts;",
  "RENAME of an index": "ALTER INDEX users_username_lower_key RENAME TO users_name_key;",
  "ALTER COLUMN TYPE": "ALTER TABLE users ALTER COLUMN name TYPE varchar(200);",
  "SET DATA TYPE": "ALTER TABLE users ALTER name SET DATA TYPE text USING name::text;",
  "DROP TABLE": "DROP TABLE IF EXISTS users CASCADE;",
  "DROP TABLE in a DO block": "DO $$ BEGIN IF true THEN DROP TABLE users; END IF; END $$;",
  "quoted and schema-qualified": 'ALTER TABLE public."users" DROP COLUMN "name";',
};

for (const [what, sql] of Object.entries(BREAKING)) {
  test(`expand/contract: ${what} is refused without a marker, accepted with one`, () => {
    const problems = check(`${sql}\n`);
    assert.equal(problems.length, 1, `${sql}: ${JSON.stringify(problems)}`);
    assert.match(problems[0], /^user\/0005_change\.up\.sql:1: .*migrations\/README\.md/);
    assert.deepEqual(check(marked("0003", sql)), []);
  });
}

test("expand/contract: an invalid marker is refused and accepts nothing", () => {
  const sql = BREAKING["DROP COLUMN"];
  const cases = {
    "0009": /contract-of 0009: no such migration/,
    "0006": /contract-of 0006: the expand must be earlier than 0005/,
    "0005": /contract-of 0005: the expand must be earlier than 0005/,
  };
  for (const [version, expected] of Object.entries(cases)) {
    const problems = check(marked(version, sql));
    assert.equal(problems.length, 2, JSON.stringify(problems));
    assert.match(problems[0], expected);
    assert.match(problems[1], /DROP COLUMN/);
  }
  for (const bad of ["-- migrate:contract-of 0003", "-- migrate:contract-of 3 (why)", "-- migrate:contract-of 0003 ()"]) {
    const problems = check(`${bad}\n${sql}\n`);
    assert.match(problems[0], /malformed marker/, bad);
  }
  // Only the leading comment lines count.
  assert.equal(check(`${sql}\n-- migrate:contract-of 0003 (too late)\n`).length, 1);
});

test("expand/contract: what the previous release cannot notice passes", () => {
  const safe = [
    // A table created in the same file is not known to any release yet.
    "CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t ALTER b TYPE bigint;\nDROP TABLE t;",
    "ALTER TABLE users DROP CONSTRAINT users_name_check;",
    "ALTER TABLE users ALTER COLUMN name DROP NOT NULL, ALTER COLUMN name DROP DEFAULT;",
    "ALTER TABLE users ADD COLUMN c text; CREATE INDEX CONCURRENTLY i ON users (c);",
    "-- ALTER TABLE users DROP COLUMN name;\nSELECT 'DROP TABLE users; ALTER TABLE users RENAME TO x';",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1 $body$;",
  ];
  for (const sql of safe) assert.deepEqual(check(`${sql}\n`), [], sql);
});
