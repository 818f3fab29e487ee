#include "migrate/options.h"

#include <map>
#include <set>

#include "migrate/errors.h"

namespace microblog {
namespace migrate {
namespace {

constexpr char kSeeHelp[] = " Run `migrate --help` for usage.";

MigrateError UsageError(const std::string& message) {
  return MigrateError(ExitCode::kUsage, message + kSeeHelp);
}

const std::map<std::string, Command>& CommandNames() {
  static const auto* names = new std::map<std::string, Command>{
      {"up", Command::kUp},           {"down", Command::kDown}, {"status", Command::kStatus},
      {"history", Command::kHistory}, {"wait", Command::kWait}, {"help", Command::kHelp},
      {"check", Command::kCheck},     {"new", Command::kNew},   {"stamp", Command::kStamp},
  };
  return *names;
}

// Flags each command accepts besides the global ones.
const std::set<std::string>& CommandFlags(Command command) {
  static const std::set<std::string> kNone;
  static const std::set<std::string> kUp = {"--to", "--dry-run", "--lock-timeout",
                                            "--lock-retries"};
  static const std::set<std::string> kDown = {"--to", "--steps", "--dry-run", "--lock-timeout",
                                              "--lock-retries"};
  static const std::set<std::string> kWait = {"--version", "--timeout"};
  static const std::set<std::string> kJson = {"--json"};
  static const std::set<std::string> kNew = {"--autogenerate"};
  switch (command) {
    case Command::kNew:
      return kNew;
    case Command::kStatus:
    case Command::kHistory:
      return kJson;
    case Command::kUp:
      return kUp;
    case Command::kDown:
      return kDown;
    case Command::kWait:
      return kWait;
    default:
      return kNone;
  }
}

bool IsGlobalFlag(const std::string& flag) {
  if (flag == "--target" || flag == "--migrations-dir") return true;
  for (const DatabaseSpec& spec : KnownDatabases()) {
    if (flag == spec.flag) return true;
  }
  return false;
}

bool IsKnownFlag(const std::string& flag) {
  if (IsGlobalFlag(flag)) return true;
  for (Command command :
       {Command::kUp, Command::kDown, Command::kWait, Command::kStatus, Command::kNew}) {
    if (CommandFlags(command).count(flag) != 0) return true;
  }
  return false;
}

bool TakesValue(const std::string& flag) {
  return flag != "--dry-run" && flag != "--help" && flag != "--json" && flag != "--autogenerate";
}

int ParseNonNegative(const std::string& flag, const std::string& value) {
  if (value.empty() || value.size() > 9 ||
      value.find_first_not_of("0123456789") != std::string::npos) {
    throw UsageError("invalid value '" + value + "' for " + flag +
                     ": expected a non-negative whole number.");
  }
  return std::stoi(value);
}

// "2000", "2000ms", "2s", "1.5s" -> milliseconds.
int ParseDurationMs(const std::string& flag, const std::string& value) {
  std::string number = value;
  double scale = 1;
  if (number.size() > 2 && number.compare(number.size() - 2, 2, "ms") == 0) {
    number.resize(number.size() - 2);
  } else if (number.size() > 1 && number.back() == 's') {
    number.pop_back();
    scale = 1000;
  }
  const bool well_formed = !number.empty() && number.size() <= 9 &&
                           number.find_first_not_of("0123456789.") == std::string::npos &&
                           number.find('.') == number.rfind('.') && number.front() != '.' &&
                           number.back() != '.';
  if (!well_formed || (scale == 1 && number.find('.') != std::string::npos)) {
    throw UsageError("invalid value '" + value + "' for " + flag +
                     ": expected milliseconds (2000 or 2000ms) or seconds (2s, 1.5s).");
  }
  const double ms = std::stod(number) * scale;
  if (ms > 24.0 * 3600 * 1000) throw UsageError(flag + " is longer than a day.");
  return static_cast<int>(ms + 0.5);
}

}  // namespace

const std::vector<DatabaseSpec>& KnownDatabases() {
  static const std::vector<DatabaseSpec> kDatabases = {
      {"user", "USER_DATABASE_URL", "--user-database-url"},
      {"post", "POST_DATABASE_URL", "--post-database-url"},
  };
  return kDatabases;
}

Options ParseOptions(const std::vector<std::string>& args, const EnvLookup& env) {
  Options options;
  std::optional<std::string> command_name;
  std::map<std::string, std::string> flags;  // flag -> value ("" for switches)

  std::optional<std::string> positional;  // new NAME, stamp VERSION

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.command = Command::kHelp;
      return options;
    }
    if (arg.rfind("--", 0) != 0) {
      if (command_name.has_value()) {
        const bool takes_argument = *command_name == "new" || *command_name == "stamp";
        if (!takes_argument || positional.has_value()) {
          throw UsageError("unexpected argument '" + arg + "' after command " + *command_name +
                           ".");
        }
        positional = arg;
        continue;
      }
      if (CommandNames().count(arg) == 0) throw UsageError("unknown command '" + arg + "'.");
      command_name = arg;
      continue;
    }
    std::string flag = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (!IsKnownFlag(flag)) throw UsageError("unknown flag " + flag + ".");
    if (TakesValue(flag) && !value.has_value()) {
      if (i + 1 >= args.size()) throw UsageError("flag " + flag + " needs a value.");
      value = args[++i];
    }
    if (!TakesValue(flag) && value.has_value()) {
      throw UsageError("flag " + flag + " takes no value.");
    }
    if (flags.count(flag) != 0) throw UsageError("flag " + flag + " given twice.");
    flags[flag] = value.value_or("");
  }

  if (!command_name.has_value()) {
    throw UsageError("missing command: one of up, down, status, history, wait, check, new, stamp.");
  }
  options.command = CommandNames().at(*command_name);
  if (options.command == Command::kHelp) return options;

  const std::set<std::string>& allowed = CommandFlags(options.command);
  for (const auto& [flag, value] : flags) {
    if (!IsGlobalFlag(flag) && allowed.count(flag) == 0) {
      throw UsageError("unknown flag " + flag + " for command " + *command_name + ".");
    }
  }
  auto flag_value = [&flags](const std::string& flag) -> std::optional<std::string> {
    auto it = flags.find(flag);
    if (it == flags.end()) return std::nullopt;
    return it->second;
  };

  if (auto dir = flag_value("--migrations-dir")) {
    options.migrations_dir = *dir;
  } else if (auto dir_env = env("MIGRATIONS_DIR"); dir_env && !dir_env->empty()) {
    options.migrations_dir = *dir_env;
  }
  if (options.migrations_dir.empty()) throw UsageError("--migrations-dir is empty.");

  const std::string target = flag_value("--target").value_or("all");
  // new writes files and stamp writes a history: one database, named.
  const bool single_target = options.command == Command::kNew || options.command == Command::kStamp;
  if (single_target) {
    const char* what = options.command == Command::kNew ? "new NAME" : "stamp VERSION";
    if (!positional.has_value()) {
      throw UsageError(std::string(what) + ": missing " +
                       (options.command == Command::kNew ? "NAME" : "VERSION") + ".");
    }
    if (target == "all") {
      throw UsageError(std::string(what) +
                       " acts on one database: pass --target user or "
                       "--target post.");
    }
  }
  bool target_known = target == "all";
  for (const DatabaseSpec& spec : KnownDatabases()) {
    if (target != "all" && target != spec.name) continue;
    target_known = true;
    TargetDatabase database;
    database.spec = &spec;
    if (options.command == Command::kNew && flags.count("--autogenerate") == 0) {
      // Writes files only: no database, no URL needed.
      options.targets.push_back(std::move(database));
      continue;
    }
    if (auto url = flag_value(spec.flag); url && !url->empty()) {
      database.url_source = spec.flag;
      database.url = *url;
    } else if (auto url_env = env(spec.env_var); url_env && !url_env->empty()) {
      database.url_source = spec.env_var;
      database.url = *url_env;
    } else {
      throw UsageError(std::string("no URL for database ") + spec.name + ": set " + spec.env_var +
                       " or pass " + spec.flag +
                       (target == "all" ? " (or choose one database with --target)." : "."));
    }
    options.targets.push_back(std::move(database));
  }
  if (!target_known) {
    std::string names;
    for (const DatabaseSpec& spec : KnownDatabases()) names += std::string(spec.name) + ", ";
    throw UsageError("unknown --target '" + target + "': expected " + names + "or all.");
  }

  if (auto to = flag_value("--to")) options.to_version = ParseNonNegative("--to", *to);
  if (auto steps = flag_value("--steps")) {
    options.steps = ParseNonNegative("--steps", *steps);
    if (*options.steps == 0) throw UsageError("--steps must be at least 1.");
  }
  if (options.to_version && options.steps) {
    throw UsageError("down takes either --to or --steps, not both.");
  }
  options.dry_run = flags.count("--dry-run") != 0;
  options.json = flags.count("--json") != 0;
  options.autogenerate = flags.count("--autogenerate") != 0;
  if (auto timeout = flag_value("--lock-timeout")) {
    options.lock_timeout_ms = ParseDurationMs("--lock-timeout", *timeout);
  }
  if (auto retries = flag_value("--lock-retries")) {
    options.lock_retries = ParseNonNegative("--lock-retries", *retries);
    if (options.lock_retries > 100) throw UsageError("--lock-retries is at most 100.");
  }
  if (options.command == Command::kNew) {
    options.new_name = *positional;
    if (options.new_name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") !=
        std::string::npos) {
      throw UsageError("invalid migration name '" + options.new_name +
                       "': use lower-case letters, digits and underscores ([a-z0-9_]+), e.g. "
                       "add_posts_edited_at.");
    }
    if (options.new_name.size() > 100) throw UsageError("migration name is too long.");
  }
  if (options.command == Command::kStamp) {
    options.stamp_version = ParseNonNegative("VERSION", *positional);
    if (options.stamp_version == 0) {
      throw UsageError(
          "stamp VERSION must be at least 1 (to forget every migration, roll back "
          "with `migrate down --to 0`).");
    }
  }
  if (options.command == Command::kWait) {
    auto version = flag_value("--version");
    if (!version.has_value()) {
      throw UsageError("wait needs --version N (or --version latest).");
    }
    if (*version != "latest") options.wait_version = ParseNonNegative("--version", *version);
    if (auto timeout = flag_value("--timeout")) {
      options.wait_timeout_seconds = ParseNonNegative("--timeout", *timeout);
    }
  }
  return options;
}

std::string HelpText() {
  return R"(migrate: brings the microblog service databases up to date.

Usage: migrate COMMAND [FLAGS]

Commands:
  up [--to N] [--dry-run] [--lock-timeout T] [--lock-retries K]
        Apply pending migrations (up to version N; default: the newest file).
  down [--to N | --steps K] [--dry-run] [--lock-timeout T] [--lock-retries K]
        Roll back with the down files. Bare `down` rolls back ONE migration per
        database (like `alembic downgrade -1`); --to 0 rolls back everything.
  status [--json]
        Per database: current version, applied and pending migrations, and any
        problem (edited applied file, database ahead of the files).
  history [--json]
        The rows of each database's schema_migrations table.
  new NAME --target user|post [--autogenerate]
        Write the next numbered pair NNNN_NAME.up.sql / .down.sql (with a
        header of the rules) into DIR/<database>/ and print both paths. NAME
        is [a-z0-9_]+. Needs no database. Refuses when the folder has a gap
        or the files exist.
        With --autogenerate (like `flask db migrate`): builds the migration
        files' schema and the declared schema DIR/schema/<database>.sql in
        two scratch databases on the server of the target's URL (CREATEDB
        needed), prints one "Detected ..." line per difference, and writes
        the migration from one to the other, safe on busy tables: indexes
        CONCURRENTLY and VALIDATE CONSTRAINT go into a second, no-transaction
        pair NNNN+1_NAME_concurrently. What it cannot write safely (drops,
        renames, type changes, ...) is a `-- TODO(migrate):` line at the top
        of the up file, which check refuses until resolved. Nothing differs:
        "No changes in schema detected.", no file, exit 0.
  stamp VERSION --target user|post
        Record versions 1..VERSION as applied WITHOUT running them (each with
        the sha256 of its up file, duration_ms 0): for adopting a database
        whose schema was created another way, or for restoring history rows
        after a manual fix. Takes the migration lock; only adds the missing
        rows. Refuses a VERSION beyond the newest file (2), and a database
        already past VERSION (4); a database already at VERSION is left alone
        (exit 0).
  wait --version N|latest [--timeout SECONDS]
        Block until each target database is exactly at version N (polled every
        second; an unreachable database is retried). For init containers.
        `latest` means the newest file in the migrations folder.
        Default timeout: 300 seconds.
  check
        Proves the down files: in a scratch database created on the server of
        each target's URL (the role needs CREATEDB; roles the migrations GRANT
        to must exist there for the grants to be checked), for every version
        v: apply v+1 up and down again and compare the schema with version
        v's; then roll back from the newest version to 0 one file at a time,
        comparing each version again (version 0: the empty database).
        Compared: tables, columns (type, default, nullability), constraints,
        indexes, sequences/identities, views, functions, triggers, policies,
        rules, types, extensions, grants and comments (not column order). The
        first difference is printed with the down file and both definitions.
        Then drift: the newest version must equal the declared schema
        DIR/schema/<database>.sql (when it exists), and no migration file may
        hold a `-- TODO(migrate):` line.
        The scratch database is dropped, also on failure, SIGINT and SIGTERM.
  help  This text (also --help, -h).

Flags (any command):
  --target user|post|all       Databases to act on (default all, in that order).
  --user-database-url URL      Overrides env USER_DATABASE_URL.
  --post-database-url URL      Overrides env POST_DATABASE_URL.
  --migrations-dir DIR         Folder holding user/ and post/ (default: env
                               MIGRATIONS_DIR, else ./migrations).
  --dry-run                    up/down: print the files and SQL that would run;
                               still takes the lock and checks checksums, but
                               changes nothing.
  --lock-timeout T             up/down: PostgreSQL lock_timeout of every
                               migration: milliseconds (2000, 2000ms) or
                               seconds (2s, 1.5s); 0 waits forever. Default 2s.
                               A DDL statement queued behind a long
                               transaction blocks the table's readers and
                               writers for at most this long.
  --lock-retries K             up/down: when a migration times out waiting for
                               a lock (SQLSTATE 55P03) it is rolled back and
                               retried, up to K times (default 5), after
                               0.25 s, 0.5 s, 1 s, ... (at most 8 s). After the
                               last retry it fails (exit 1) naming the blocking
                               sessions: pid, state, query start, query.
  --json                       status/history: one JSON document on stdout
                               (fields below); messages go to stderr.

Environment:
  USER_DATABASE_URL, POST_DATABASE_URL   libpq URLs, e.g.
      postgresql://USER:PASSWORD@HOST:5432/DBNAME (passwords are never printed)
  MIGRATIONS_DIR                         Default for --migrations-dir.

Files: DIR/<database>/NNNN_name.up.sql and NNNN_name.down.sql, versions 0001,
0002, ... without gaps. Each runs in its own transaction with its row in the
schema_migrations history table (version, name, sha256 checksum of the up file,
applied_at, duration_ms); files must not contain BEGIN/COMMIT. A session
advisory lock per database serialises concurrent runs: a second run waits, then
finds nothing to do. The lock needs a session of its own: give migrate direct
URLs, not a transaction-mode pooler (PgBouncer pool_mode=transaction), which
it refuses (exit 4) when two of its sessions get the same server process or
a migration would run on another server process than the lock's.

A file whose first line is `-- migrate:no-transaction` runs statement by
statement outside a transaction (CREATE INDEX CONCURRENTLY, ...), still under
the lock. Its history row is written only after every statement succeeded; a
failure leaves the version unapplied and the next `up` runs the file again
from the start, so such files must be idempotent (IF NOT EXISTS). An INVALID
index left by a failed concurrent build that the file names is reported, with
the fix (DROP INDEX CONCURRENTLY, then run migrate again). Statements are split
at semicolons outside quotes, dollar quotes and comments. CREATE/DROP INDEX
CONCURRENTLY and REINDEX ... CONCURRENTLY run without lock_timeout: they never
block reads or writes, but wait for older transactions to end.

Rules for migrations (expand/contract): the migration job runs before the
rollout while the previous release still serves, so every migration must work
with the previous release's code (add, never drop/rename/retype what it uses;
contract in a later release); prefer DDL that takes short locks; a down file
undoes its up file exactly.

JSON (--json), one document on stdout:
  status:  {"databases": [{"name", "url" (password redacted),
            "current_version", "latest_version", "up_to_date",
            "applied": [{"version", "name", "checksum", "applied_at",
                         "duration_ms"}],
            "pending": [{"version", "name", "path"}],
            "problems": [string], "error": string|null}]}
           "error" is set (and the rest empty) when the database could not be
           read; the exit code is as without --json.
  history: {"databases": [{"name", "url", "migrations": [{"version", "name",
            "checksum", "applied_at", "duration_ms"}]}]}
  applied_at is UTC, "YYYY-MM-DD HH:MM:SSZ"; checksum the sha256 (hex) of the
  up file.

Exit codes:
  0  success (also: nothing to do)
  1  a migration failed (rolled back; message names file, line:column and the
     PostgreSQL error), also after the last --lock-retries (message names the
     blocking sessions), or another database error
  2  usage or configuration error: unknown command/flag, bad value or URL,
     missing URL, missing or malformed migrations folder, `new` with a bad
     name or existing files, `stamp` beyond the newest file
  3  a database is unreachable
  4  refused: an applied migration file was edited, the database is at a
     version the files do not know (database ahead of code), `wait` found
     the database past the requested version, `stamp` found it past VERSION,
     or a no-transaction file names an INVALID index, or the URL goes
     through a transaction-mode pooler
  5  `wait` timed out
  10 `check`: a down file does not restore the schema its up file changed (or
     leaves something behind at version 0)
  11 `check`: the role may not create the scratch database (needs CREATEDB)
  130, 143  `check` interrupted by SIGINT / SIGTERM (scratch database dropped)
)";
}

}  // namespace migrate
}  // namespace microblog
