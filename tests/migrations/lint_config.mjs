// Which squawk rules apply to which migration file (migrations/README.md,
// "Lint"). Everything else is per statement in the files themselves:
// `-- squawk-ignore RULE` above the statement, with a comment saying why.

// The PostgreSQL the migrations run on (deploy/, scripts/pg.sh).
export const PG_VERSION = "15";

// Rules that do not apply to any file of this project.
export const GLOBAL_EXCLUDED_RULES = [
  // migrate itself runs every migration under a short lock_timeout and
  // retries it (issue 13, `--lock-timeout`); a SET in a file would override
  // the operator's setting.
  "require-lock-timeout",
  // The statements that hold a heavy lock for long (rewrites, scans,
  // non-concurrent index builds) are refused by their own rules; the long
  // statements that remain (CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT,
  // batched backfills) take weak locks and must not be cut short.
  "require-statement-timeout",
];

// Rules lifted in an up file carrying a valid `-- migrate:contract-of`
// marker: expand_contract.mjs has checked that an earlier release stopped
// using what it drops or renames. changing-column-type stays (it is also
// about the table rewrite).
export const CONTRACT_RULES = ["ban-drop-column", "ban-drop-table", "renaming-column", "renaming-table"];

// Exclusions for up files that are already applied in production: migrate
// records each up file's checksum, so these files cannot take a comment
// any more. New files put `-- squawk-ignore` comments in themselves.
// Paths relative to migrations/.
export const APPLIED_FILE_EXCLUSIONS = {
  // varchar(n) holds the API's length limits (the services check them
  // too); widening one later is a catalog-only change in PostgreSQL 15,
  // under migrate's lock_timeout.
  "post/0001_create_posts.up.sql": ["prefer-text-field"],
  "post/0003_user_tombstones.up.sql": ["prefer-text-field"],
  "user/0001_create_users.up.sql": ["prefer-text-field"],
  "user/0003_user_events.up.sql": ["prefer-text-field"],
};
