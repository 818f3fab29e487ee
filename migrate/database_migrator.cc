#include "migrate/database_migrator.h"

#include <chrono>

#include "migrate/errors.h"
#include "migrate/sql_script.h"

namespace microblog {
namespace migrate {
namespace {

// One lock key for every `migrate` run; advisory locks are per database, so
// runs against different databases never wait for each other.
constexpr char kLockKey[] = "hashtext('microblog.migrate')";

constexpr char kCreateHistoryTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "  version integer PRIMARY KEY,"
    "  name text NOT NULL,"
    "  checksum text NOT NULL,"
    "  applied_at timestamptz NOT NULL DEFAULT now(),"
    "  duration_ms bigint NOT NULL)";

}  // namespace

DatabaseMigrator::DatabaseMigrator(std::string name, DatabaseUrl url,
                                   std::vector<MigrationFile> files, std::ostream& out)
    : name_(std::move(name)), url_(std::move(url)), files_(std::move(files)), out_(out) {}

// Closing the session releases the advisory lock.
DatabaseMigrator::~DatabaseMigrator() = default;

void DatabaseMigrator::Connect() { conn_ = std::make_unique<Connection>(url_); }

void DatabaseMigrator::AcquireLock() {
  pqxx::nontransaction tx(*conn_);
  if (tx.exec1(std::string("SELECT pg_try_advisory_lock(") + kLockKey + ")")[0].as<bool>()) return;
  out_ << name_ << ": waiting for another migrate run on this database to finish" << std::endl;
  tx.exec(std::string("SELECT pg_advisory_lock(") + kLockKey + ")");
  out_ << name_ << ": got the migration lock" << std::endl;
}

void DatabaseMigrator::LoadHistory() {
  history_.clear();
  pqxx::read_transaction tx(*conn_);
  if (tx.exec1("SELECT to_regclass('schema_migrations') IS NULL")[0].as<bool>()) return;
  pqxx::result rows = tx.exec(
      "SELECT version, name, checksum,"
      "       to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"'), duration_ms"
      "  FROM schema_migrations ORDER BY version");
  for (const pqxx::row& row : rows) {
    AppliedMigration applied;
    applied.version = row[0].as<int>();
    applied.name = row[1].as<std::string>();
    applied.checksum = row[2].as<std::string>();
    applied.applied_at = row[3].as<std::string>();
    applied.duration_ms = row[4].as<int64_t>();
    history_.push_back(std::move(applied));
  }
}

int DatabaseMigrator::current_version() const {
  return history_.empty() ? 0 : history_.back().version;
}

std::vector<std::string> DatabaseMigrator::Problems() const {
  std::vector<std::string> problems;
  int expected = 1;
  for (const AppliedMigration& applied : history_) {
    const std::string label = FormatVersion(applied.version) + "_" + applied.name;
    if (applied.version != expected) {
      problems.push_back("database " + name_ + ": schema_migrations has no row for version " +
                         FormatVersion(expected) + " but has " + label +
                         "; the history table was edited by hand. Restore the missing row or "
                         "rebuild the database.");
      expected = applied.version;
    }
    ++expected;
    if (applied.version > latest_version()) {
      problems.push_back("database " + name_ + " has migration " + label +
                         " applied, but the migrations folder only goes up to " +
                         FormatVersion(latest_version()) +
                         ": the database is ahead of this code. Run the release that has this "
                         "migration (or roll the database back with that release's "
                         "`migrate down`).");
      continue;
    }
    const MigrationFile& file = files_[applied.version - 1];
    if (file.name != applied.name || file.checksum != applied.checksum) {
      problems.push_back("database " + name_ + ": migration " + label +
                         " was changed after it was applied (recorded checksum " +
                         applied.checksum + ", " + file.up_path + " now has " + file.checksum +
                         "). Applied migrations must never change: restore the original file "
                         "and put the change in a new migration.");
    }
  }
  return problems;
}

void DatabaseMigrator::CheckConsistent() const {
  std::vector<std::string> problems = Problems();
  if (problems.empty()) return;
  std::string message = "refusing to run:";
  for (const std::string& problem : problems) message += "\n  " + problem;
  throw MigrateError(ExitCode::kRefused, message);
}

void DatabaseMigrator::EnsureHistoryTable() {
  pqxx::work tx(*conn_);
  tx.exec(kCreateHistoryTable);
  tx.commit();
}

void DatabaseMigrator::MigrateTo(int target, bool dry_run) {
  const int current = current_version();
  if (target == current) {
    out_ << name_ << ": nothing to do, database is at version " << current << std::endl;
    return;
  }
  if (!dry_run && target > current) EnsureHistoryTable();
  if (target > current) {
    for (int v = current + 1; v <= target; ++v) {
      const MigrationFile& file = files_[v - 1];
      if (dry_run) {
        out_ << name_ << ": would apply " << file.up_path << ":\n" << file.up_sql << std::endl;
      } else {
        ApplyOne(file, /*up=*/true);
      }
    }
  } else {
    for (int v = current; v > target; --v) {
      const MigrationFile& file = files_[v - 1];
      if (dry_run) {
        out_ << name_ << ": would roll back with " << file.down_path << ":\n"
             << file.down_sql << std::endl;
      } else {
        ApplyOne(file, /*up=*/false);
      }
    }
  }
  if (dry_run) {
    out_ << name_ << ": dry run, nothing was changed (database stays at version " << current
         << ")" << std::endl;
  } else {
    out_ << name_ << ": database is now at version " << target << std::endl;
  }
}

void DatabaseMigrator::ApplyOne(const MigrationFile& file, bool up) {
  const std::string& path = up ? file.up_path : file.down_path;
  const std::string& sql = up ? file.up_sql : file.down_sql;
  out_ << name_ << ": " << (up ? "applying " : "rolling back ") << file.Label() << " (" << path
       << ")" << std::endl;
  const auto started = std::chrono::steady_clock::now();

  pqxx::work tx(*conn_);
  // Same session as `tx`, so the file's statements are part of its transaction.
  if (std::optional<ScriptError> error = RunScript(conn_->raw(), sql)) {
    const int stays_at = up ? file.version - 1 : file.version;
    throw MigrateError(ExitCode::kMigrationFailed,
                       "migration " + file.Label() + " (" + (up ? "up" : "down") +
                           ") failed on database " + name_ +
                           " and was rolled back; the database stays at version " +
                           std::to_string(stays_at) + ".\n" + error->Describe(path, sql) +
                           "\nFix the file and run migrate again.");
  }
  const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
  if (up) {
    tx.exec_params(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at, duration_ms)"
        " VALUES ($1, $2, $3, now(), $4)",
        file.version, file.name, file.checksum, static_cast<int64_t>(elapsed_ms));
  } else {
    tx.exec_params("DELETE FROM schema_migrations WHERE version = $1", file.version);
  }
  tx.commit();
  out_ << name_ << ": " << (up ? "applied " : "rolled back ") << file.Label() << " in "
       << elapsed_ms << " ms" << std::endl;
}

}  // namespace migrate
}  // namespace microblog
