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
      {"check", Command::kCheck},
  };
  return *names;
}

// Flags each command accepts besides the global ones.
const std::set<std::string>& CommandFlags(Command command) {
  static const std::set<std::string> kNone;
  static const std::set<std::string> kUp = {"--to", "--dry-run"};
  static const std::set<std::string> kDown = {"--to", "--steps", "--dry-run"};
  static const std::set<std::string> kWait = {"--version", "--timeout"};
  switch (command) {
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
  for (Command command : {Command::kUp, Command::kDown, Command::kWait}) {
    if (CommandFlags(command).count(flag) != 0) return true;
  }
  return false;
}

bool TakesValue(const std::string& flag) { return flag != "--dry-run" && flag != "--help"; }

int ParseNonNegative(const std::string& flag, const std::string& value) {
  if (value.empty() || value.size() > 9 ||
      value.find_first_not_of("0123456789") != std::string::npos) {
    throw UsageError("invalid value '" + value + "' for " + flag +
                     ": expected a non-negative whole number.");
  }
  return std::stoi(value);
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

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.command = Command::kHelp;
      return options;
    }
    if (arg.rfind("--", 0) != 0) {
      if (command_name.has_value()) {
        throw UsageError("unexpected argument '" + arg + "' after command " + *command_name +
                         ".");
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
    throw UsageError("missing command: one of up, down, status, history, wait, check.");
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
  bool target_known = target == "all";
  for (const DatabaseSpec& spec : KnownDatabases()) {
    if (target != "all" && target != spec.name) continue;
    target_known = true;
    TargetDatabase database;
    database.spec = &spec;
    if (auto url = flag_value(spec.flag); url && !url->empty()) {
      database.url_source = spec.flag;
      database.url = *url;
    } else if (auto url_env = env(spec.env_var); url_env && !url_env->empty()) {
      database.url_source = spec.env_var;
      database.url = *url_env;
    } else {
      throw UsageError(std::string("no URL for database ") + spec.name + ": set " +
                       spec.env_var + " or pass " + spec.flag +
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
  up [--to N] [--dry-run]
        Apply pending migrations (up to version N; default: the newest file).
  down [--to N | --steps K] [--dry-run]
        Roll back with the down files. Bare `down` rolls back ONE migration per
        database (like `alembic downgrade -1`); --to 0 rolls back everything.
  status
        Per database: current version, applied and pending migrations, and any
        problem (edited applied file, database ahead of the files).
  history
        The rows of each database's schema_migrations table.
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

Environment:
  USER_DATABASE_URL, POST_DATABASE_URL   libpq URLs, e.g.
      postgresql://USER:PASSWORD@HOST:5432/DBNAME (passwords are never printed)
  MIGRATIONS_DIR                         Default for --migrations-dir.

Files: DIR/<database>/NNNN_name.up.sql and NNNN_name.down.sql, versions 0001,
0002, ... without gaps. Each runs in its own transaction with its row in the
schema_migrations history table (version, name, sha256 checksum of the up file,
applied_at, duration_ms); files must not contain BEGIN/COMMIT. A session
advisory lock per database serialises concurrent runs: a second run waits, then
finds nothing to do.

Exit codes:
  0  success (also: nothing to do)
  1  a migration failed (rolled back; message names file, line:column and the
     PostgreSQL error), or another database error
  2  usage or configuration error: unknown command/flag, bad value or URL,
     missing URL, missing or malformed migrations folder
  3  a database is unreachable
  4  refused: an applied migration file was edited, the database is at a
     version the files do not know (database ahead of code), or `wait` found
     the database past the requested version
  5  `wait` timed out
  10 `check`: a down file does not restore the schema its up file changed (or
     leaves something behind at version 0)
  11 `check`: the role may not create the scratch database (needs CREATEDB)
  130, 143  `check` interrupted by SIGINT / SIGTERM (scratch database dropped)
)";
}

}  // namespace migrate
}  // namespace microblog
