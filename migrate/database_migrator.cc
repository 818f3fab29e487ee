#include "migrate/database_migrator.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>

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

// lock_not_available: lock_timeout expired (or NOWAIT).
constexpr char kLockNotAvailable[] = "55P03";

// The server process serving `tx`'s session now.
int64_t BackendPid(pqxx::transaction_base& tx) {
  return tx.exec1("SELECT pg_backend_pid()")[0].as<int64_t>();
}

// Why migrate does not run through a transaction-mode pooler, and what to do.
std::string PoolerRefusal(const std::string& name, const std::string& evidence) {
  return "refusing to run on database " + name + ": " + evidence +
         ", so something between migrate and PostgreSQL hands each transaction to whichever "
         "server connection is free (a transaction-mode pooler such as PgBouncer with "
         "pool_mode=transaction). migrate's lock is held by its session and would protect "
         "nothing there. Give migrate a direct URL to PostgreSQL (or a session-mode pool); "
         "nothing was changed.";
}

}  // namespace

const char* HistoryTableDdl() { return kCreateHistoryTable; }

DatabaseMigrator::DatabaseMigrator(std::string name, DatabaseUrl url,
                                   std::vector<MigrationFile> files, std::ostream& out)
    : name_(std::move(name)), url_(std::move(url)), files_(std::move(files)), out_(out) {}

// Releases the lock explicitly (closing the session would too, but a
// session-mode pooler keeps the server session open).
DatabaseMigrator::~DatabaseMigrator() {
  if (conn_ == nullptr || lock_pid_ == 0) return;
  try {
    pqxx::nontransaction tx(*conn_);
    tx.exec(std::string("SELECT pg_advisory_unlock(") + kLockKey + ")");
  } catch (const std::exception&) {
    // The session is gone, and the lock with it.
  }
}

void DatabaseMigrator::Connect() { conn_ = std::make_unique<Connection>(url_); }

void DatabaseMigrator::RefuseTransactionPooler() {
  int64_t ours = 0;
  {
    pqxx::nontransaction tx(*conn_);
    ours = BackendPid(tx);
  }
  // Two sessions open at once are two server processes, unless a pooler
  // multiplexes them.
  Connection other(url_);
  pqxx::nontransaction tx(other);
  if (BackendPid(tx) == ours) {
    throw MigrateError(ExitCode::kRefused,
                       PoolerRefusal(name_,
                                     "two sessions open at the same time were served by "
                                     "the same server process (pid " +
                                         std::to_string(ours) + ")"));
  }
}

void DatabaseMigrator::AcquireLock() {
  RefuseTransactionPooler();
  pqxx::nontransaction tx(*conn_);
  const pqxx::row tried =
      tx.exec1(std::string("SELECT pg_try_advisory_lock(") + kLockKey + "), pg_backend_pid()");
  if (tried[0].as<bool>()) {
    lock_pid_ = tried[1].as<int64_t>();
    return;
  }
  out_ << name_ << ": waiting for another migrate run on this database to finish" << std::endl;
  lock_pid_ = tx.exec1(std::string("SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock(") +
                       kLockKey + ")) AS locked")[0]
                  .as<int64_t>();
  out_ << name_ << ": got the migration lock" << std::endl;
}

void DatabaseMigrator::CheckLockHolder(pqxx::transaction_base& tx) const {
  if (lock_pid_ == 0) return;  // no lock taken (migrate check's scratch database)
  const int64_t now = BackendPid(tx);
  if (now != lock_pid_) {
    throw MigrateError(
        ExitCode::kRefused,
        PoolerRefusal(name_, "the migration lock was taken by server process " +
                                 std::to_string(lock_pid_) + " but this transaction runs on " +
                                 std::to_string(now)));
  }
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

std::vector<std::string> DatabaseMigrator::Problems() const { return ProblemsImpl(true); }

std::vector<std::string> DatabaseMigrator::ProblemsExceptHoles() const {
  return ProblemsImpl(false);
}

std::vector<std::string> DatabaseMigrator::ProblemsImpl(bool holes) const {
  std::vector<std::string> problems;
  int expected = 1;
  for (const AppliedMigration& applied : history_) {
    const std::string label = FormatVersion(applied.version) + "_" + applied.name;
    if (applied.version != expected && holes) {
      problems.push_back("database " + name_ + ": schema_migrations has no row for version " +
                         FormatVersion(expected) + " but has " + label +
                         "; the history table was edited by hand. If its change is in the "
                         "schema, restore the row with `migrate stamp " +
                         std::to_string(expected) + "`; otherwise rebuild the database.");
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
        out_ << name_ << ": would apply " << file.up_path
             << (IsNoTransaction(file.up_sql) ? " (outside a transaction, statement by statement)"
                                              : "")
             << ":\n"
             << file.up_sql << std::endl;
      } else {
        ApplyOne(file, /*up=*/true);
      }
    }
  } else {
    for (int v = current; v > target; --v) {
      const MigrationFile& file = files_[v - 1];
      if (dry_run) {
        out_ << name_ << ": would roll back with " << file.down_path
             << (IsNoTransaction(file.down_sql) ? " (outside a transaction, statement by statement)"
                                                : "")
             << ":\n"
             << file.down_sql << std::endl;
      } else {
        ApplyOne(file, /*up=*/false);
      }
    }
  }
  if (dry_run) {
    out_ << name_ << ": dry run, nothing was changed (database stays at version " << current << ")"
         << std::endl;
  } else {
    out_ << name_ << ": database is now at version " << target << std::endl;
  }
}

void DatabaseMigrator::SetLockPolicy(int timeout_ms, int retries) {
  lock_timeout_ms_ = timeout_ms;
  lock_retries_ = retries;
}

void DatabaseMigrator::WriteHistoryRow(pqxx::work& tx, const MigrationFile& file, bool up,
                                       int64_t elapsed_ms) {
  if (up) {
    tx.exec_params(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at, duration_ms)"
        " VALUES ($1, $2, $3, now(), $4)",
        file.version, file.name, file.checksum, elapsed_ms);
  } else {
    tx.exec_params("DELETE FROM schema_migrations WHERE version = $1", file.version);
  }
}

void DatabaseMigrator::ApplyOne(const MigrationFile& file, bool up) {
  const std::string& path = up ? file.up_path : file.down_path;
  const std::string& sql = up ? file.up_sql : file.down_sql;
  out_ << name_ << ": " << (up ? "applying " : "rolling back ") << file.Label() << " (" << path
       << ")" << std::endl;
  if (IsNoTransaction(sql)) {
    {
      pqxx::nontransaction tx(*conn_);
      CheckLockHolder(tx);
    }
    ApplyWithoutTransaction(file, up);
    return;
  }
  for (int attempt = 0;; ++attempt) {
    int64_t elapsed_ms = 0;
    std::optional<ScriptError> error = TryInTransaction(file, up, sql, &elapsed_ms);
    if (!error.has_value()) {
      out_ << name_ << ": " << (up ? "applied " : "rolled back ") << file.Label() << " in "
           << elapsed_ms << " ms" << std::endl;
      return;
    }
    if (error->sqlstate == kLockNotAvailable) {
      if (attempt < lock_retries_) {
        BackOff(file, attempt + 1);
        continue;
      }
      throw MigrateError(ExitCode::kMigrationFailed, LockFailure(file, up, path, sql, *error));
    }
    const int stays_at = up ? file.version - 1 : file.version;
    throw MigrateError(ExitCode::kMigrationFailed,
                       "migration " + file.Label() + " (" + (up ? "up" : "down") +
                           ") failed on database " + name_ +
                           " and was rolled back; the database stays at version " +
                           std::to_string(stays_at) + ".\n" + error->Describe(path, sql) +
                           "\nFix the file and run migrate again.");
  }
}

std::optional<ScriptError> DatabaseMigrator::TryInTransaction(const MigrationFile& file, bool up,
                                                              const std::string& sql,
                                                              int64_t* elapsed_ms) {
  const auto started = std::chrono::steady_clock::now();
  pqxx::work tx(*conn_);
  CheckLockHolder(tx);
  tx.exec("SET LOCAL lock_timeout = " + std::to_string(lock_timeout_ms_));
  // Same session as `tx`, so the file's statements are part of its transaction.
  if (std::optional<ScriptError> error = RunWatched(sql)) return error;  // ~work rolls back
  *elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started)
                    .count();
  WriteHistoryRow(tx, file, up, *elapsed_ms);
  tx.commit();
  return std::nullopt;
}

std::optional<ScriptError> DatabaseMigrator::RunWatched(const std::string& sql) {
  last_blockers_.clear();
  if (lock_timeout_ms_ == 0) return RunScript(conn_->raw(), sql);
  const std::chrono::milliseconds interval(std::clamp(lock_timeout_ms_ / 4, 20, 500));
  return RunScript(
      conn_->raw(), sql, [this] { RecordBlockers(); }, interval);
}

// Called while a statement of the migration runs: who holds what it waits
// for. Asked while waiting because after the timeout nothing waits any more.
void DatabaseMigrator::RecordBlockers() {
  try {
    if (monitor_ == nullptr) monitor_ = std::make_unique<Connection>(url_);
    pqxx::nontransaction tx(*monitor_);
    pqxx::result rows = tx.exec_params(
        "WITH waiting AS (SELECT locktype, relation FROM pg_locks WHERE pid = $1 AND NOT granted)"
        " SELECT a.pid, coalesce(a.state, '?'),"
        "  coalesce(to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"'), '?'),"
        "  coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"'), '-'),"
        "  coalesce(a.usename::text, '?'), coalesce(a.application_name, ''),"
        "  coalesce((SELECT string_agg(DISTINCT l.mode || ' on ' ||"
        "        coalesce(l.relation::regclass::text, l.locktype), ', ')"
        "     FROM pg_locks l JOIN waiting w ON l.locktype = w.locktype"
        "      AND l.relation IS NOT DISTINCT FROM w.relation"
        "     WHERE l.pid = a.pid AND l.granted), 'a lock ahead in the queue'),"
        "  left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 200)"
        " FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1)) ORDER BY a.pid",
        PQbackendPID(conn_->raw()));
    if (rows.empty()) return;
    last_blockers_.clear();
    for (const pqxx::row& row : rows) {
      last_blockers_.push_back(
          "pid " + row[0].as<std::string>() + " (user " + row[4].as<std::string>() +
          (row[5].as<std::string>().empty() ? "" : ", application " + row[5].as<std::string>()) +
          ", state " + row[1].as<std::string>() + ", query started " + row[2].as<std::string>() +
          ", transaction started " + row[3].as<std::string>() + ", holds " +
          row[6].as<std::string>() + "; its last query: " + row[7].as<std::string>() + ")");
    }
  } catch (const std::exception&) {
    // Only for the message: never fail a migration because of the monitor.
    monitor_.reset();
  }
}

void DatabaseMigrator::BackOff(const MigrationFile& file, int attempt) {
  const int delay_ms = std::min(250 << std::min(attempt - 1, 5), 8000);
  out_ << name_ << ": " << file.Label() << " timed out after " << lock_timeout_ms_
       << " ms waiting for a lock (lock_timeout)";
  if (!last_blockers_.empty()) {
    out_ << ", blocked by";
    for (const std::string& blocker : last_blockers_) out_ << " " << blocker;
  }
  out_ << "; rolled back, retry " << attempt << " of " << lock_retries_ << " in " << delay_ms
       << " ms" << std::endl;
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
}

std::string DatabaseMigrator::LockFailure(const MigrationFile& file, bool up,
                                          const std::string& path, const std::string& sql,
                                          const ScriptError& error) const {
  std::string message =
      "migration " + file.Label() + " (" + (up ? "up" : "down") + ") on database " + name_ +
      " gave up after " + std::to_string(lock_retries_ + 1) +
      (lock_retries_ == 0 ? " attempt: it waited " : " attempts: each waited ") +
      std::to_string(lock_timeout_ms_) +
      " ms for a lock (--lock-timeout) and was rolled back; the database stays at version " +
      std::to_string(up ? file.version - 1 : file.version) + ".\n" + error.Describe(path, sql);
  if (last_blockers_.empty()) {
    message += "\n  blocked by: a session that ended before it could be identified";
  }
  for (const std::string& blocker : last_blockers_) message += "\n  blocked by: " + blocker;
  message +=
      "\nA long transaction holds a lock this migration needs. Let it finish or end it "
      "(SELECT pg_terminate_backend(PID)), then run migrate again; --lock-timeout and "
      "--lock-retries set how long to wait.";
  return message;
}

std::vector<std::string> DatabaseMigrator::InvalidIndexesNamedIn(const std::string& sql) {
  std::string lower = sql;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto is_word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  };
  pqxx::nontransaction tx(*conn_);
  pqxx::result rows = tx.exec(
      "SELECT c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
      "  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
      "  JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
      " ORDER BY 2");
  std::vector<std::string> invalid;
  for (const pqxx::row& row : rows) {
    const std::string index = row[0].as<std::string>();
    for (size_t at = lower.find(index); at != std::string::npos; at = lower.find(index, at + 1)) {
      const size_t end = at + index.size();
      if ((at == 0 || !is_word(lower[at - 1])) && (end >= lower.size() || !is_word(lower[end]))) {
        invalid.push_back(row[1].as<std::string>());
        break;
      }
    }
  }
  return invalid;
}

namespace {

// CREATE [UNIQUE] INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX ...
// CONCURRENTLY: their locks (SHARE UPDATE EXCLUSIVE) never block reads or
// writes, but they wait for every older transaction, and a lock_timeout
// there would only leave an INVALID index behind.
bool IsConcurrentIndexStatement(const std::string& text) {
  std::string words;
  for (char c : text) {
    const bool blank = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (blank && (words.empty() || words.back() == ' ')) continue;
    words += blank ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (words.size() > 200) break;
  }
  for (const char* prefix : {"CREATE INDEX CONCURRENTLY", "CREATE UNIQUE INDEX CONCURRENTLY",
                             "DROP INDEX CONCURRENTLY"}) {
    if (words.rfind(prefix, 0) == 0) return true;
  }
  return words.rfind("REINDEX", 0) == 0 && words.find("CONCURRENTLY") != std::string::npos;
}

std::string InvalidIndexAdvice(const std::vector<std::string>& invalid) {
  std::string text;
  for (const std::string& index : invalid) {
    text += "\n  INVALID index " + index +
            " (left by a failed CREATE INDEX CONCURRENTLY; IF NOT EXISTS would keep it, "
            "broken). Drop it with `DROP INDEX CONCURRENTLY IF EXISTS " +
            index + ";`, then run migrate again.";
  }
  return text;
}

}  // namespace

void DatabaseMigrator::ApplyWithoutTransaction(const MigrationFile& file, bool up) {
  const std::string& path = up ? file.up_path : file.down_path;
  const std::string& sql = up ? file.up_sql : file.down_sql;
  const int stays_at = up ? file.version - 1 : file.version;
  // A failed earlier run may have left a broken index that a rerun would skip.
  if (std::vector<std::string> invalid = InvalidIndexesNamedIn(sql); !invalid.empty()) {
    throw MigrateError(ExitCode::kRefused,
                       "refusing to run " + path + " on database " + name_ +
                           ": an index it names is INVALID; the database stays at version " +
                           std::to_string(stays_at) + "." + InvalidIndexAdvice(invalid));
  }
  const std::vector<Statement> statements = SplitStatements(sql);
  out_ << name_ << ": " << file.Label() << " runs outside a transaction (" << kNoTransactionMarker
       << "), " << statements.size() << " statement(s)" << std::endl;
  const auto started = std::chrono::steady_clock::now();
  auto set_lock_timeout = [this](int ms) {
    if (std::optional<ScriptError> error =
            RunScript(conn_->raw(), "SET lock_timeout = " + std::to_string(ms))) {
      throw MigrateError(ExitCode::kMigrationFailed,
                         "database " + name_ + ": cannot set lock_timeout: " + error->message);
    }
  };
  for (const Statement& statement : statements) {
    const bool concurrent = IsConcurrentIndexStatement(statement.text);
    set_lock_timeout(concurrent ? 0 : lock_timeout_ms_);
    for (int attempt = 0;; ++attempt) {
      std::optional<ScriptError> error = RunWatched(statement.text);
      if (!error.has_value()) break;
      error->position =
          error->position > 0 ? error->position + statement.char_offset : statement.char_offset + 1;
      const std::vector<std::string> invalid = InvalidIndexesNamedIn(sql);
      if (error->sqlstate == kLockNotAvailable && invalid.empty() && attempt < lock_retries_) {
        BackOff(file, attempt + 1);
        continue;
      }
      set_lock_timeout(0);
      std::string first_line = statement.text.substr(0, statement.text.find('\n'));
      std::string message = "migration " + file.Label() + " (" + (up ? "up" : "down") +
                            ") failed on database " + name_ + " at statement " +
                            std::to_string(statement.number) + " of " +
                            std::to_string(statements.size()) + " (" + first_line + ").\n" +
                            error->Describe(path, sql);
      if (error->sqlstate == kLockNotAvailable) {
        for (const std::string& blocker : last_blockers_) message += "\n  blocked by: " + blocker;
      }
      message += InvalidIndexAdvice(invalid);
      message += "\nThe file runs outside a transaction (" + std::string(kNoTransactionMarker) +
                 "): statements before this one took effect and stay; its version is not "
                 "recorded, the database stays at version " +
                 std::to_string(stays_at) +
                 ". Fix the cause and run migrate again: the file runs again from its first "
                 "statement, so every statement must be idempotent (IF NOT EXISTS).";
      throw MigrateError(ExitCode::kMigrationFailed, message);
    }
  }
  set_lock_timeout(0);
  const int64_t elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - started)
                                 .count();
  pqxx::work tx(*conn_);
  WriteHistoryRow(tx, file, up, elapsed_ms);
  tx.commit();
  out_ << name_ << ": " << (up ? "applied " : "rolled back ") << file.Label() << " in "
       << elapsed_ms << " ms" << std::endl;
}

void DatabaseMigrator::Stamp(int version) {
  if (version > latest_version()) {
    throw MigrateError(
        ExitCode::kUsage,
        "cannot stamp database " + name_ + " at version " + std::to_string(version) +
            ": its newest migration file is " +
            (files_.empty() ? std::string("none")
                            : files_.back().Label() + " (" + files_.back().up_path + ")") +
            ". Stamp only versions the files know.");
  }
  std::vector<std::string> problems = ProblemsExceptHoles();
  if (!problems.empty()) {
    std::string message = "refusing to stamp:";
    for (const std::string& problem : problems) message += "\n  " + problem;
    throw MigrateError(ExitCode::kRefused, message);
  }
  std::vector<bool> recorded(static_cast<size_t>(version) + 1, false);
  for (const AppliedMigration& applied : history_) {
    if (applied.version <= version) recorded[applied.version] = true;
  }
  std::vector<const MigrationFile*> missing;
  for (int v = 1; v <= version; ++v) {
    if (!recorded[v]) missing.push_back(&files_[v - 1]);
  }
  const int current = current_version();
  if (missing.empty()) {
    if (current > version) {
      throw MigrateError(ExitCode::kRefused,
                         "database " + name_ + " is at version " + std::to_string(current) +
                             ", past " + std::to_string(version) +
                             ": nothing stamped (stamp only adds history rows). "
                             "To go back run `migrate down --to " +
                             std::to_string(version) + "` (runs the down files).");
    }
    out_ << name_ << ": nothing to stamp, versions 1.." << version
         << " are already recorded (database at version " << current << ")" << std::endl;
    return;
  }
  EnsureHistoryTable();
  pqxx::work tx(*conn_);
  CheckLockHolder(tx);
  for (const MigrationFile* file : missing) {
    tx.exec_params(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at, duration_ms)"
        " VALUES ($1, $2, $3, now(), 0)",
        file->version, file->name, file->checksum);
  }
  tx.commit();
  for (const MigrationFile* file : missing) {
    out_ << name_ << ": stamped " << file->Label() << " as applied without running it (sha256 "
         << file->checksum << ")" << std::endl;
  }
  out_ << name_ << ": recorded " << missing.size()
       << " migration(s), nothing was run; the database is now at version "
       << std::max(current, version) << std::endl;
}

}  // namespace migrate
}  // namespace microblog
