#include "migrate/commands.h"

#include <chrono>
#include <iomanip>
#include <memory>
#include <thread>

#include <pqxx/pqxx>

#include "migrate/check_command.h"
#include "migrate/database_migrator.h"
#include "migrate/errors.h"

namespace microblog {
namespace migrate {
namespace {

using Migrators = std::vector<std::unique_ptr<DatabaseMigrator>>;

// Loads every target's migration folder before any database is contacted.
Migrators PrepareMigrators(const Options& options, std::ostream& out) {
  Migrators migrators;
  for (const TargetDatabase& target : options.targets) {
    DatabaseUrl url(target.url_source, target.url);
    std::vector<MigrationFile> files =
        LoadMigrationFiles(options.migrations_dir + "/" + target.spec->name);
    migrators.push_back(std::make_unique<DatabaseMigrator>(target.spec->name, std::move(url),
                                                           std::move(files), out));
  }
  return migrators;
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
                                               db.name() + " (" + FormatVersion(db.latest_version()) +
                                               ").");
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
    throw MigrateError(ExitCode::kUsage, where + ": cannot roll back " + std::to_string(steps) +
                                             " migrations.");
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
void RunStatus(const Options& options, std::ostream& out) {
  Migrators migrators = PrepareMigrators(options, out);
  std::optional<MigrateError> failure;
  for (auto& db : migrators) {
    try {
      db->Connect();
      db->LoadHistory();
    } catch (const MigrateError& e) {
      out << "database " << db->name() << ": " << e.what() << std::endl;
      if (!failure.has_value()) {
        failure = MigrateError(e.code(), "database " + db->name() + ": see the message above.");
      }
      continue;
    }
    const int current = db->current_version();
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
    for (const std::string& problem : db->Problems()) {
      out << "  [problem] " << problem << std::endl;
      if (!failure.has_value()) {
        failure = MigrateError(ExitCode::kRefused,
                               "database " + db->name() +
                                   " does not match the migration files (see [problem] above).");
      }
    }
  }
  if (failure.has_value()) throw *failure;
}

void RunHistory(const Options& options, std::ostream& out) {
  Migrators migrators = PrepareMigrators(options, out);
  for (auto& db : migrators) {
    db->Connect();
    db->LoadHistory();
    out << "database " << db->name() << " (" << db->url().redacted()
        << "): " << db->history().size() << " applied" << std::endl;
    if (db->history().empty()) continue;
    out << "  " << std::left << std::setw(8) << "version" << std::setw(28) << "name"
        << std::setw(66) << "checksum" << std::setw(22) << "applied_at"
        << "duration_ms" << std::endl;
    for (const AppliedMigration& applied : db->history()) {
      out << "  " << std::left << std::setw(8) << FormatVersion(applied.version)
          << std::setw(28) << applied.name << std::setw(66) << applied.checksum
          << std::setw(22) << applied.applied_at << applied.duration_ms << std::endl;
    }
  }
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
                             "database " + db.name() + " is at version " +
                                 std::to_string(current) + ", ahead of the expected version " +
                                 std::to_string(want) +
                                 ": this code is older than the database. Deploy the release "
                                 "that matches it, or roll the database back with `migrate down "
                                 "--to " + std::to_string(want) + "`.");
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

void RunCommand(const Options& options, std::ostream& out) {
  switch (options.command) {
    case Command::kHelp:
      out << HelpText();
      return;
    case Command::kUp:
    case Command::kDown:
      RunUpOrDown(options, out);
      return;
    case Command::kStatus:
      RunStatus(options, out);
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
  }
}

int RunMigrate(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
               std::ostream& err) {
  try {
    Options options = ParseOptions(args, env);
    RunCommand(options, out);
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
