// The expand/contract check of up migrations (migrations/README.md).
//
// migrate runs before the rollout, while the previous release still serves,
// so an up file must not remove or reshape what that release reads or
// writes. Refused in an up file, unless it carries the contract marker:
//   - ALTER TABLE ... DROP [COLUMN]
//   - ALTER <object> ... RENAME (column, table, constraint, index, ...)
//   - ALTER TABLE ... ALTER [COLUMN] c [SET DATA] TYPE
//   - DROP TABLE of a table the same file did not create
// Statements on a table the same file created are exempt: no release knows
// it yet.
//
// The marker, among the file's leading comment lines:
//   -- migrate:contract-of NNNN (why the previous release no longer needs it)
// NNNN must be an earlier up migration of the same directory (the expand).
//
// The check reads the SQL text: DDL run through EXECUTE '...' is not seen.

import fs from "node:fs";
import path from "node:path";

export const MARKER_RE = /^--\s*migrate:contract-of\b(.*)$/;
const MARKER_ARGS_RE = /^\s+(\d{4})\s+\((.*\S.*)\)\s*$/;
export const UP_FILE_RE = /^(\d{4})_[a-z0-9_]+\.up\.sql$/;

// The SQL with comments and string literals blanked (newlines kept, so
// offsets still give line numbers) and dollar quotes turned into ';', so
// that DO blocks' statements are split and checked like the others.
export function codeOf(sql) {
  let out = "";
  let i = 0;
  const blank = (s) => s.replace(/[^\n]/g, " ");
  while (i < sql.length) {
    const rest = sql.slice(i);
    let m;
    if (rest.startsWith("--")) {
      const end = rest.indexOf("\n");
      const len = end < 0 ? rest.length : end;
      out += blank(rest.slice(0, len));
      i += len;
    } else if (rest.startsWith("/*")) {
      let depth = 0, j = 0;
      do {
        if (rest.startsWith("/*", j)) { depth++; j += 2; }
        else if (rest.startsWith("*/", j)) { depth--; j += 2; }
        else j++;
      } while (depth > 0 && j < rest.length);
      out += blank(rest.slice(0, j));
      i += j;
    } else if ((m = /^[Ee]?'(?:[^']|'')*'?/.exec(rest))) {
      out += blank(m[0]);
      i += m[0].length;
    } else if ((m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(rest))) {
      out += ";" + " ".repeat(m[0].length - 1);
      i += m[0].length;
    } else {
      out += sql[i];
      i++;
    }
  }
  return out;
}

// Unquoted identifiers fold to lower case; the schema is dropped (one
// schema per database here).
function tableName(raw) {
  const last = raw.split(".").pop();
  return last.startsWith('"') ? last.slice(1, -1) : last.toLowerCase();
}
const NAME = String.raw`(?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|[A-Za-z_][\w$]*))?`;

// Splits at commas outside parentheses (ALTER TABLE's action list).
function splitTopLevel(text) {
  const parts = [];
  let depth = 0, start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")") depth--;
    else if (text[i] === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

// The breaking operations of one up file: [{line, what, statement}].
export function breakingOperations(sql) {
  const code = codeOf(sql);
  const lineAt = (offset) => code.slice(0, offset).split("\n").length;
  const created = new Set();
  const found = [];
  let offset = 0;
  for (const chunk of code.split(";")) {
    const at = offset;
    offset += chunk.length + 1;
    const flat = chunk.replace(/\s+/g, " ");
    const report = (what) =>
      found.push({ line: lineAt(at + chunk.search(/\S/)), what, statement: flat.trim().slice(0, 120) });
    let m;
    if ((m = new RegExp(String.raw`\bCREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?(${NAME})`, "i").exec(flat))) {
      created.add(tableName(m[1]));
    }
    if ((m = new RegExp(String.raw`\bDROP TABLE (?:IF EXISTS )?(.*?)(?: CASCADE| RESTRICT)?\s*$`, "i").exec(flat))) {
      for (const raw of m[1].split(",").map((s) => s.trim())) {
        if (!created.has(tableName(raw))) report(`DROP TABLE ${raw} (a table the previous release may use)`);
      }
    }
    if ((m = /\bALTER (?:TABLE|INDEX|SEQUENCE|VIEW|MATERIALIZED VIEW|TYPE|FUNCTION|SCHEMA)\b.*\bRENAME\b/i.exec(flat))) {
      const table = new RegExp(String.raw`\bALTER TABLE (?:IF EXISTS )?(?:ONLY )?(${NAME})`, "i").exec(flat);
      if (!(table && created.has(tableName(table[1])))) report("RENAME (the previous release uses the old name)");
    }
    if ((m = new RegExp(String.raw`\bALTER TABLE (?:IF EXISTS )?(?:ONLY )?(${NAME})\s*\*?(.*)$`, "i").exec(flat))) {
      if (created.has(tableName(m[1]))) continue;
      for (const action of splitTopLevel(m[2])) {
        if (/^DROP (?!CONSTRAINT\b)/i.test(action)) {
          report(`DROP COLUMN on ${m[1]} (the previous release may read it)`);
        } else if (/^ALTER (?:COLUMN )?\S+ (?:SET DATA )?TYPE\b/i.test(action)) {
          report(`ALTER COLUMN ... TYPE on ${m[1]} (the previous release reads and writes the old type)`);
        }
      }
    }
  }
  return found;
}

// The contract marker among the leading comment lines: null when absent,
// else {line, version, reason} or {line, error}.
export function contractMarker(sql) {
  const lines = sql.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === "") continue;
    if (!line.startsWith("--")) break;
    const m = MARKER_RE.exec(line);
    if (!m) continue;
    const args = MARKER_ARGS_RE.exec(m[1]);
    if (!args) return { line: n + 1, error: "malformed marker: write `-- migrate:contract-of NNNN (reason)`" };
    return { line: n + 1, version: args[1], reason: args[2] };
  }
  return null;
}

// Whether an up file is a valid contract step: {valid, problem}, where
// problem explains an invalid marker.
export function contractStatus(file, sql, versions) {
  const version = UP_FILE_RE.exec(path.basename(file))?.[1];
  const marker = contractMarker(sql);
  const at = marker && `${file}:${marker.line}`;
  if (!marker) return { valid: false };
  if (marker.error) return { valid: false, problem: `${at}: ${marker.error}` };
  if (!versions.includes(marker.version)) {
    return { valid: false, problem: `${at}: contract-of ${marker.version}: no such migration in ${path.dirname(file)}` };
  }
  if (!(marker.version < version)) {
    return { valid: false, problem: `${at}: contract-of ${marker.version}: the expand must be earlier than ${version}` };
  }
  return { valid: true };
}

// Problems of one up file ("file:line: message"), given the versions of the
// up files of its directory.
export function checkUpFile(file, sql, versions) {
  const { valid, problem } = contractStatus(file, sql, versions);
  if (valid) return []; // its breaking operations are intended
  const problems = problem ? [problem] : [];
  for (const op of breakingOperations(sql)) {
    problems.push(`${file}:${op.line}: ${op.what}: \`${op.statement}\`; see migrations/README.md (expand/contract)`);
  }
  return problems;
}

// The up files of one directory: [{file, version}], by version.
export function upFiles(dirPath) {
  return fs.readdirSync(dirPath).filter((f) => UP_FILE_RE.test(f)).sort()
    .map((f) => ({ file: path.join(dirPath, f), version: UP_FILE_RE.exec(f)[1] }));
}

// Every up file of every directory of `root` that holds migrations.
export function checkTree(root) {
  const problems = [];
  for (const dir of fs.readdirSync(root, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const ups = upFiles(path.join(root, dir.name));
    const versions = ups.map((u) => u.version);
    for (const { file } of ups) {
      problems.push(...checkUpFile(file, fs.readFileSync(file, "utf8"), versions));
    }
  }
  return problems;
}
