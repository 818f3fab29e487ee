// One service database under migration: its connection, the session advisory
// lock, the schema_migrations history table, and applying migrations.
//
// Typical use by the commands (see commands.h):
//   DatabaseMigrator db("user", url, files, out);
//   db.Connect();            // MigrateError(kUnreachable)
//   db.AcquireLock();        // blocks while another `migrate` run holds it
//   db.LoadHistory();        // reads schema_migrations (absent: version 0)
//   db.CheckConsistent();    // MigrateError(kRefused): edited file, database ahead
//   db.MigrateTo(3, /*dry_run=*/false);
//
// Each migration runs in its own transaction together with its history row,
// so a failure leaves the database at the previous version. The advisory lock
// is session-level and held until the object is destroyed (it is released
// then), so two concurrent runs never apply the same migration twice.
//
// A session lock needs a session: through a transaction-mode pooler
// (PgBouncer pool_mode=transaction) each transaction may run on another
// server connection. AcquireLock() refuses (kRefused) when two sessions open
// at once report the same pg_backend_pid() (only a pooler does that), and
// every migration's transaction checks that it runs on the server process
// that took the lock, refusing before it changes anything otherwise.
// Not thread-safe.
#ifndef MICROBLOG_MIGRATE_DATABASE_MIGRATOR_H_
#define MICROBLOG_MIGRATE_DATABASE_MIGRATOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "migrate/connection.h"
#include "migrate/database_url.h"
#include "migrate/migration_files.h"
#include "migrate/sql_script.h"

namespace microblog {
namespace migrate {

// A row of schema_migrations.
struct AppliedMigration {
  int version = 0;
  std::string name;
  std::string checksum;
  std::string applied_at;  // UTC, "YYYY-MM-DD HH:MM:SSZ"
  int64_t duration_ms = 0;
};

// The CREATE TABLE IF NOT EXISTS of migrate's history table.
const char* HistoryTableDdl();

class DatabaseMigrator {
 public:
  // `name` is the logical database ("user", "post"); `files` its migrations;
  // progress lines go to `out`, which must outlive this object.
  DatabaseMigrator(std::string name, DatabaseUrl url, std::vector<MigrationFile> files,
                   std::ostream& out);
  ~DatabaseMigrator();

  DatabaseMigrator(const DatabaseMigrator&) = delete;
  DatabaseMigrator& operator=(const DatabaseMigrator&) = delete;

  const std::string& name() const { return name_; }
  const DatabaseUrl& url() const { return url_; }
  const std::vector<MigrationFile>& files() const { return files_; }
  int latest_version() const { return static_cast<int>(files_.size()); }

  // Opens the session. Throws MigrateError(kUnreachable).
  void Connect();
  // Takes the migration advisory lock for this database, saying so on `out`
  // when it has to wait for another run. Requires Connect(). Throws
  // MigrateError(kRefused) through a transaction-mode pooler (above).
  void AcquireLock();
  // Reads schema_migrations; a missing table means nothing is applied.
  // Requires Connect().
  void LoadHistory();

  // After LoadHistory(): the highest applied version (0 when none).
  int current_version() const;
  const std::vector<AppliedMigration>& history() const { return history_; }
  // After LoadHistory(): why the database and the files disagree (edited
  // applied migration, versions the files do not know, a hole in the
  // history); empty when consistent. Each entry says what to do.
  std::vector<std::string> Problems() const;
  // Throws MigrateError(kRefused) listing Problems() unless there are none.
  void CheckConsistent() const;

  // Applies up files (or down files, when `target` is below the current
  // version) one transaction each until the database is at `target`. With
  // `dry_run` prints the files and their SQL and changes nothing. Requires
  // AcquireLock(), LoadHistory() and a consistent state; `target` must be
  // within [0, latest_version()]. Throws MigrateError(kMigrationFailed) with
  // the file, line:column and PostgreSQL's message when a migration fails.
  void MigrateTo(int target, bool dry_run);

  // lock_timeout of every migration in milliseconds (0: none) and how many
  // times a migration that hit it (SQLSTATE 55P03) is retried, with backoff.
  void SetLockPolicy(int timeout_ms, int retries);

  // Records versions 1..`version` as applied without running them (only the
  // missing rows, with the files' checksums and duration_ms 0), in one
  // transaction. Requires AcquireLock() and LoadHistory(). Throws
  // MigrateError: kUsage beyond the newest file, kRefused when the database
  // is past `version`, has an edited applied file or is ahead of the files.
  void Stamp(int version);

 private:
  // MigrateError(kRefused) when a second session gets conn_'s server process.
  void RefuseTransactionPooler();
  // MigrateError(kRefused) unless `tx` runs on the session holding the lock
  // (when AcquireLock() took it).
  void CheckLockHolder(pqxx::transaction_base& tx) const;
  std::vector<std::string> ProblemsImpl(bool holes) const;
  std::vector<std::string> ProblemsExceptHoles() const;
  void EnsureHistoryTable();
  void ApplyOne(const MigrationFile& file, bool up);
  // One attempt in a transaction; the error (already rolled back) or nullopt.
  std::optional<ScriptError> TryInTransaction(const MigrationFile& file, bool up,
                                              const std::string& sql, int64_t* elapsed_ms);
  void ApplyWithoutTransaction(const MigrationFile& file, bool up);
  // Runs `sql` on the session, recording who blocks it into last_blockers_.
  std::optional<ScriptError> RunWatched(const std::string& sql);
  void RecordBlockers();
  // Waits before retry `attempt` (1-based) and says so.
  void BackOff(const MigrationFile& file, int attempt);
  std::string LockFailure(const MigrationFile& file, bool up, const std::string& path,
                          const std::string& sql, const ScriptError& error) const;
  // INVALID indexes (failed concurrent builds) whose names appear in `sql`.
  std::vector<std::string> InvalidIndexesNamedIn(const std::string& sql);
  void WriteHistoryRow(pqxx::work& tx, const MigrationFile& file, bool up, int64_t elapsed_ms);

  std::string name_;
  DatabaseUrl url_;
  std::vector<MigrationFile> files_;
  std::ostream& out_;
  std::unique_ptr<Connection> conn_;
  std::vector<AppliedMigration> history_;
  int64_t lock_pid_ = 0;  // pg_backend_pid() of the session holding the lock; 0: not held
  int lock_timeout_ms_ = 2000;
  int lock_retries_ = 5;
  // A second session that asks pg_stat_activity who blocks conn_.
  std::unique_ptr<Connection> monitor_;
  std::vector<std::string> last_blockers_;
};

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_DATABASE_MIGRATOR_H_
