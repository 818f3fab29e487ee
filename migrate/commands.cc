#include "migrate/commands.h"

#include <chrono>
#include <iomanip>
#include <memory>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include "migrate/autogenerate_command.h"
#include "migrate/check_command.h"
#include "migrate/database_migrator.h"
#include "migrate/errors.h"

namespace microblog {
namespace migrate {
namespace {

using Migrators = std::vector<std::unique_ptr<DatabaseMigrator>>;

std::string JoinJson(const std::vector<std::string>& items) {
  std::string joined;
  for (size_t i = 0; i < items.size(); ++i) joined += (i == 0 ? "" : ",\n  ") + items[i];
  return joined;
}

// Loads every target's migration folder before any database is contacted.
Migrators PrepareMigrators(const Options& options, std::ostream& out) {
  Migrators migrators;
  for (const TargetDatabase& target : options.targets) {
    DatabaseUrl url(target.url_source, target.url);
    std::vector<MigrationFile> files =
        LoadMigrationFiles(options.migrations_dir + "/" + target.spec->name);
    migrators.push_back(std::make_unique<DatabaseMigrator>(target.spec->name, std::move(url),
                                                           std::move(files), out));
    migrators.back()->SetLockPolicy(options.lock_timeout_ms, options.lock_retries);
  }
  return migrators;
}

// --- JSON output (status --json, history --json) ---

std::string JsonString(const std::string& text) {
  std::string json = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        json += "\\\"";
        break;
      case '\\':
        json += "\\\\";
        break;
      case '\n':
        json += "\\n";
        break;
      case '\t':
        json += "\\t";
        break;
      case '\r':
        json += "\\r";
        break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          json += escaped;
        } else {
          json += static_cast<char>(c);
        }
    }
  }
  return json + "\"";
}

std::string JsonApplied(const AppliedMigration& applied) {
  return "{\"version\": " + std::to_string(applied.version) +
         ", \"name\": " + JsonString(applied.name) +
         ", \"checksum\": " + JsonString(applied.checksum) +
         ", \"applied_at\": " + JsonString(applied.applied_at) +
         ", \"duration_ms\": " + std::to_string(applied.duration_ms) + "}";
}

template <typename T, typename F>
std::string JsonArray(const std::vector<T>& items, F&& to_json) {
  std::string json = "[";
  for (size_t i = 0; i < items.size(); ++i) json += (i == 0 ? "" : ", ") + to_json(items[i]);
  return json + "]";
}

// The version each database must reach, or a usage error when the request
// makes no sense for its current state.
int TargetVersion(const Options& options, const DatabaseMigrator& db) {
  const int current = db.current_version();
  const std::string where = "database " + db.name() + " is at version " + std::to_string(current);
  if (options.command == Command::kUp) {
    const int to = options.to_version.value_or(db.latest_version());
    if (to > db.latest_version()) {
      throw MigrateError(ExitCode::kUsage, "--to " + std::to_string(to) +
                                               " is beyond the newest migration of database " +
                                               db.name() + " (" +
                                               FormatVersion(db.latest_version()) + ").");
    }
    if (to < current) {
      throw MigrateError(ExitCode::kUsage, where + ", past --to " + std::to_string(to) +
                                               ": use `migrate down --to " + std::to_string(to) +
                                               "` to go back.");
    }
    return to;
  }
  if (options.to_version.has_value()) {
    if (*options.to_version > current) {
      throw MigrateError(ExitCode::kUsage, where + ", below --to " +
                                               std::to_string(*options.to_version) +
                                               ": use `migrate up --to` to go forward.");
    }
    return *options.to_version;
  }
  const int steps = options.steps.value_or(1);
  if (steps > current) {
    if (!options.steps.has_value()) return 0;  // bare `down` at version 0: nothing to do
    throw MigrateError(ExitCode::kUsage,
                       where + ": cannot roll back " + std::to_string(steps) + " migrations.");
  }
  return current - steps;
}

void RunUpOrDown(const Options& options, std::ostream& out) {
  Migrators migrators = PrepareMigrators(options, out);
  for (auto& db : migrators) db->Connect();
  for (auto& db : migrators) {
    db->AcquireLock();
    db->LoadHistory();
    db->CheckConsistent();
  }
  std::vector<int> targets;
  for (auto& db : migrators) targets.push_back(TargetVersion(options, *db));
  for (size_t i = 0; i < migrators.size(); ++i) {
    migrators[i]->MigrateTo(targets[i], options.dry_run);
  }
}

// Prints the state of each database; exit code: the worst problem found.
void RunStatus(const Options& options, std::ostream& out, std::ostream& err) {
  Migrators migrators = PrepareMigrators(options, out);
  std::optional<MigrateError> failure;
  std::vector<std::string> json_databases;
  for (auto& db : migrators) {
    try {
      db->Connect();
      db->LoadHistory();
    } catch (const MigrateError& e) {
      if (options.json) {
        json_databases.push_back("{\"name\": " + JsonString(db->name()) +
                                 ", \"url\": " + JsonString(db->url().redacted()) +
                                 ", \"current_version\": null, \"latest_version\": " +
                                 std::to_string(db->latest_version()) +
                                 ", \"up_to_date\": false, \"applied\": [], \"pending\": [],"
                                 " \"problems\": [], \"error\": " +
                                 JsonString(e.what()) + "}");
        err << "database " << db->name() << ": " << e.what() << std::endl;
      } else {
        out << "database " << db->name() << ": " << e.what() << std::endl;
      }
      if (!failure.has_value()) {
        failure = MigrateError(e.code(), "database " + db->name() + ": see the message above.");
      }
      continue;
    }
    const int current = db->current_version();
    const std::vector<std::string> problems = db->Problems();
    if (!problems.empty() && !failure.has_value()) {
      failure = MigrateError(
          ExitCode::kRefused,
          "database " + db->name() + " does not match the migration files (see [problem] above).");
    }
    if (options.json) {
      std::vector<const MigrationFile*> pending;
      for (const MigrationFile& file : db->files()) {
        if (file.version > current) pending.push_back(&file);
      }
      json_databases.push_back(
          "{\"name\": " + JsonString(db->name()) + ", \"url\": " +
          JsonString(db->url().redacted()) + ", \"current_version\": " + std::to_string(current) +
          ", \"latest_version\": " + std::to_string(db->latest_version()) + ", \"up_to_date\": " +
          (current == db->latest_version() && problems.empty() ? "true" : "false") +
          ",\n   \"applied\": " + JsonArray(db->history(), JsonApplied) + ",\n   \"pending\": " +
          JsonArray(pending,
                    [](const MigrationFile* file) {
                      return "{\"version\": " + std::to_string(file->version) +
                             ", \"name\": " + JsonString(file->name) +
                             ", \"path\": " + JsonString(file->up_path) + "}";
                    }) +
          ",\n   \"problems\": " + JsonArray(problems, JsonString) + ", \"error\": null}");
      continue;
    }
    out << "database " << db->name() << " (" << db->url().redacted() << "): current version "
        << current << ", latest " << db->latest_version();
    if (current == db->latest_version()) out << ", up to date";
    out << std::endl;
    for (const AppliedMigration& applied : db->history()) {
      out << "  [applied] " << FormatVersion(applied.version) << "_" << applied.name << "  at "
          << applied.applied_at << " in " << applied.duration_ms << " ms" << std::endl;
    }
    for (const MigrationFile& file : db->files()) {
      if (file.version > current) out << "  [pending] " << file.Label() << std::endl;
    }
    for (const std::string& problem : problems) {
      out << "  [problem] " << problem << std::endl;
    }
  }
  if (options.json) {
    out << "{\"databases\": [\n  " << JoinJson(json_databases) << "\n]}" << std::endl;
    if (failure.has_value()) {
      throw MigrateError(failure->code(), "see \"problems\" and \"error\" in the JSON output.");
    }
  }
  if (failure.has_value()) throw *failure;
}

void RunHistory(const Options& options, std::ostream& out) {
  Migrators migrators = PrepareMigrators(options, out);
  std::vector<std::string> json_databases;
  for (auto& db : migrators) {
    db->Connect();
    db->LoadHistory();
    if (options.json) {
      json_databases.push_back("{\"name\": " + JsonString(db->name()) +
                               ", \"url\": " + JsonString(db->url().redacted()) +
                               ",\n   \"migrations\": " + JsonArray(db->history(), JsonApplied) +
                               "}");
      continue;
    }
    out << "database " << db->name() << " (" << db->url().redacted()
        << "): " << db->history().size() << " applied" << std::endl;
    if (db->history().empty()) continue;
    out << "  " << std::left << std::setw(8) << "version" << std::setw(28) << "name"
        << std::setw(66) << "checksum" << std::setw(22) << "applied_at"
        << "duration_ms" << std::endl;
    for (const AppliedMigration& applied : db->history()) {
      out << "  " << std::left << std::setw(8) << FormatVersion(applied.version) << std::setw(28)
          << applied.name << std::setw(66) << applied.checksum << std::setw(22)
          << applied.applied_at << applied.duration_ms << std::endl;
    }
  }
  if (options.json) {
    out << "{\"databases\": [\n  " << JoinJson(json_databases) << "\n]}" << std::endl;
  }
}

// The header of a new up or down file.
std::string NewFileHeader(const std::string& label, const std::string& database, bool up) {
  std::string header = "-- " + label + (up ? " (up)" : " (down)") + ", database " + database +
                       ". Written by `migrate new`.\n--\n";
  if (up) {
    header +=
        "-- The change. It runs in one transaction with its schema_migrations row (no\n"
        "-- BEGIN/COMMIT here) and with lock_timeout (--lock-timeout, retried). For\n"
        "-- CREATE INDEX CONCURRENTLY put `-- migrate:no-transaction` as the very first\n"
        "-- line, above this header, and make every statement idempotent (IF NOT EXISTS).\n"
        "--\n"
        "-- Rules:\n"
        "-- * Expand/contract: this runs before the rollout, while the previous release\n"
        "--   still serves, so it must work with the previous release's code. Add things\n"
        "--   (nullable columns, tables, indexes); drop, rename or retype only what no\n"
        "--   running release uses (the contract step, a release later).\n"
        "-- * Lock-friendly DDL on busy tables: CREATE INDEX CONCURRENTLY, ADD CONSTRAINT\n"
        "--   ... NOT VALID then VALIDATE CONSTRAINT in a later migration, backfill in\n"
        "--   batches, no table rewrites (volatile defaults, type changes).\n"
        "-- * Down undoes up: the .down.sql file restores the schema exactly.\n"
        "-- * Never edit this file once applied anywhere: write a new migration.\n";
  } else {
    header +=
        "-- Undo exactly what the .up.sql file did, in reverse order, so that the\n"
        "-- previous release runs on the result (`migrate down`). Same transaction and\n"
        "-- lock_timeout rules as the up file.\n";
  }
  return header + "\n";
}

void RunNew(const Options& options, std::ostream& out) {
  const TargetDatabase& target = options.targets.front();
  const std::string dir = options.migrations_dir + "/" + target.spec->name;
  // Also refuses gaps, duplicates and lone files, like up.
  const std::vector<MigrationFile> files = LoadMigrationFiles(dir);
  const std::string label =
      FormatVersion(static_cast<int>(files.size()) + 1) + "_" + options.new_name;
  const std::string up_path = dir + "/" + label + ".up.sql";
  const std::string down_path = dir + "/" + label + ".down.sql";
  WriteNewFiles({{up_path, NewFileHeader(label, target.spec->name, /*up=*/true)},
                 {down_path, NewFileHeader(label, target.spec->name, /*up=*/false)}});
  out << up_path << "\n" << down_path << std::endl;
}

void RunStamp(const Options& options, std::ostream& out) {
  Migrators migrators = PrepareMigrators(options, out);
  DatabaseMigrator& db = *migrators.front();
  db.Connect();
  db.AcquireLock();
  db.LoadHistory();
  db.Stamp(options.stamp_version);
}

void RunWait(const Options& options, std::ostream& out) {
  Migrators migrators = PrepareMigrators(options, out);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(options.wait_timeout_seconds);
  std::vector<std::string> last_state(migrators.size());
  for (size_t i = 0; i < migrators.size(); ++i) {
    DatabaseMigrator& db = *migrators[i];
    const int want = options.wait_version.value_or(db.latest_version());
    while (true) {
      std::string state;
      try {
        // A fresh session per poll: the database may be restarting.
        db.Connect();
        db.LoadHistory();
        const int current = db.current_version();
        if (current == want) {
          out << db.name() << ": at version " << want << std::endl;
          break;
        }
        if (current > want) {
          throw MigrateError(ExitCode::kRefused,
                             "database " + db.name() + " is at version " + std::to_string(current) +
                                 ", ahead of the expected version " + std::to_string(want) +
                                 ": this code is older than the database. Deploy the release "
                                 "that matches it, or roll the database back with `migrate down "
                                 "--to " +
                                 std::to_string(want) + "`.");
        }
        state = "at version " + std::to_string(current) + ", waiting for version " +
                std::to_string(want);
      } catch (const MigrateError& e) {
        if (e.code() != ExitCode::kUnreachable) throw;
        state = std::string("waiting for the database to be reachable: ") + e.what();
      } catch (const pqxx::failure& e) {
        // E.g. the history table being created right now, or a dropped session.
        state = std::string("waiting, database error: ") + db.url().Redact(e.what());
      }
      if (state != last_state[i]) {
        out << db.name() << ": " << state << std::endl;
        last_state[i] = state;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        throw MigrateError(ExitCode::kWaitTimeout,
                           "timed out after " + std::to_string(options.wait_timeout_seconds) +
                               " s: database " + db.name() + " did not reach version " +
                               std::to_string(want) + " (" + state +
                               "). Check that the migration job ran (`migrate status`).");
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

}  // namespace

void RunCommand(const Options& options, std::ostream& out, std::ostream& err) {
  switch (options.command) {
    case Command::kHelp:
      out << HelpText();
      return;
    case Command::kUp:
    case Command::kDown:
      RunUpOrDown(options, out);
      return;
    case Command::kStatus:
      RunStatus(options, out, err);
      return;
    case Command::kHistory:
      RunHistory(options, out);
      return;
    case Command::kWait:
      RunWait(options, out);
      return;
    case Command::kCheck:
      RunCheck(options, out);
      return;
    case Command::kNew:
      if (options.autogenerate) {
        RunAutogenerate(options, out);
      } else {
        RunNew(options, out);
      }
      return;
    case Command::kStamp:
      RunStamp(options, out);
      return;
  }
}

int RunMigrate(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
               std::ostream& err) {
  try {
    Options options = ParseOptions(args, env);
    RunCommand(options, out, err);
    return static_cast<int>(ExitCode::kOk);
  } catch (const MigrateError& e) {
    err << "migrate: error: " << e.what() << std::endl;
    return static_cast<int>(e.code());
  } catch (const pqxx::broken_connection& e) {
    err << "migrate: error: lost the database connection: " << RedactUnparsedUrl(e.what())
        << "Check that PostgreSQL is running, then run migrate again." << std::endl;
    return static_cast<int>(ExitCode::kUnreachable);
  } catch (const std::exception& e) {
    // E.g. a schema_migrations table of another tool, or permissions.
    err << "migrate: error: database error: " << RedactUnparsedUrl(e.what()) << std::endl;
    return static_cast<int>(ExitCode::kMigrationFailed);
  }
}

}  // namespace migrate
}  // namespace microblog
