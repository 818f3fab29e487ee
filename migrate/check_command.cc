#include "migrate/check_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <libpq-fe.h>
#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "migrate/autogenerate.h"
#include "migrate/connection.h"
#include "migrate/database_migrator.h"
#include "migrate/database_url.h"
#include "migrate/declared_schema.h"
#include "migrate/errors.h"
#include "migrate/migration_files.h"
#include "migrate/schema_snapshot.h"
#include "migrate/scratch_database.h"

namespace microblog {
namespace migrate {
namespace {

// Receives SIGINT and SIGTERM on a thread of its own while it exists: they are
// blocked in the constructing thread (and so in the threads it starts), and
// the watcher calls `on_signal` for the first one. The destructor stops the
// watcher and restores the signal mask.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_signal) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_mask_);
    thread_ = std::thread([this, on_signal = std::move(on_signal)] {
      while (true) {
        int signal = 0;
        if (sigwait(&set_, &signal) != 0) continue;
        if (stopping_.load()) return;
        int expected = 0;
        if (received_.compare_exchange_strong(expected, signal)) on_signal(signal);
      }
    });
  }
  ~SignalWatcher() {
    stopping_.store(true);
    pthread_kill(thread_.native_handle(), SIGTERM);  // wakes sigwait
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // The signal received, 0 if none.
  int received() const { return received_.load(); }

 private:
  sigset_t set_;
  sigset_t old_mask_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> received_{0};
  std::thread thread_;
};

void RefuseTodos(const std::string& db_name, const std::vector<MigrationFile>& files);

void CheckTarget(const Options& options, const TargetDatabase& target, std::ostream& out,
                 const SignalWatcher& watcher,
                 std::function<void(const std::string*)> set_scratch) {
  const std::string db_name = target.spec->name;
  const std::vector<MigrationFile> files =
      LoadMigrationFiles(options.migrations_dir + "/" + db_name);
  const int latest = static_cast<int>(files.size());
  DatabaseUrl server(target.url_source, target.url);
  RefuseTodos(db_name, files);

  auto check_interrupted = [&watcher] {
    if (watcher.received() != 0) throw std::runtime_error("interrupted");
  };
  const std::string scratch_name = ScratchName("check", db_name);
  set_scratch(&scratch_name);
  ScratchDatabase scratch(target, server, scratch_name);
  check_interrupted();
  out << db_name << ": checking " << latest << " migrations in scratch database " << scratch.name()
      << " (" << server.Endpoint() << ")" << std::endl;

  std::ostringstream migrator_log;  // its per-file lines; ours are shorter
  std::vector<SchemaSnapshot> at(latest + 1);
  {
    DatabaseMigrator migrator(db_name, scratch.url(), files, migrator_log);
    migrator.Connect();
    Connection snapshot_conn(scratch.url());
    auto migrate_to = [&](int version) {
      check_interrupted();
      migrator.LoadHistory();
      migrator.MigrateTo(version, /*dry_run=*/false);
      check_interrupted();
    };
    auto version_label = [](int version) {
      return version == 0 ? std::string("version 0 (empty database)")
                          : "version " + std::to_string(version);
    };

    at[0] = SchemaSnapshot::Take(snapshot_conn);
    for (int v = 0; v < latest; ++v) {
      const MigrationFile& file = files[v];
      migrate_to(v + 1);
      migrate_to(v);
      std::vector<SchemaDifference> differences =
          CompareSnapshots(at[v], SchemaSnapshot::Take(snapshot_conn));
      if (!differences.empty()) {
        throw MigrateError(
            ExitCode::kCheckFailed,
            "check failed on database " + db_name + ": the down file of " + file.Label() + " (" +
                file.down_path + ") does not restore the schema of " + version_label(v) + " (at " +
                version_label(v) + ", applied " + file.Label() +
                " up, then down, and compared).\n" +
                DescribeDifferences(differences, version_label(v), "after up and down") +
                "Fix the down file so that it undoes exactly what the up file does.");
      }
      migrate_to(v + 1);
      at[v + 1] = SchemaSnapshot::Take(snapshot_conn);
      out << db_name << ": " << file.Label() << ": up, down, up: the down file restores "
          << version_label(v) << std::endl;
    }
    for (int v = latest; v > 0; --v) {
      const MigrationFile& file = files[v - 1];
      migrate_to(v - 1);
      std::vector<SchemaDifference> differences =
          CompareSnapshots(at[v - 1], SchemaSnapshot::Take(snapshot_conn));
      if (!differences.empty()) {
        throw MigrateError(
            ExitCode::kCheckFailed,
            "check failed on database " + db_name + ": rolling back from version " +
                std::to_string(latest) + " to 0, the down file of " + file.Label() + " (" +
                file.down_path + ") does not restore the schema of " + version_label(v - 1) +
                ".\n" +
                DescribeDifferences(differences, version_label(v - 1), "after rolling back to it") +
                "Fix the down file so that it undoes exactly what the up file does.");
      }
    }
    out << db_name << ": down from version " << latest
        << " to 0, one file at a time: each version restored, version 0 equals the empty "
           "database"
        << std::endl;
  }
  scratch.Drop();
  set_scratch(nullptr);
  out << db_name << ": dropped scratch database " << scratch.name() << std::endl;

  const std::string declared_path = DeclaredSchemaPath(options.migrations_dir, db_name);
  std::error_code ec;
  if (!std::filesystem::exists(declared_path, ec)) {
    out << db_name << ": no declared schema " << declared_path << " to compare with" << std::endl;
  } else {
    check_interrupted();
    const std::string drift =
        DescribeDrift(at[latest], SnapshotOfDeclaredSchema(target, server, declared_path));
    if (!drift.empty()) {
      throw MigrateError(
          ExitCode::kCheckFailed,
          "check failed on database " + db_name +
              ": the migrations do not produce the declared "
              "schema " +
              declared_path + " (version " + std::to_string(latest) + " compared with it).\n" +
              drift +
              "Edit the declared schema, or autogenerate the missing migration: migrate new NAME "
              "--target " +
              db_name + " --autogenerate.");
    }
    out << db_name << ": version " << latest << " equals the declared schema " << declared_path
        << std::endl;
  }
  out << db_name << ": check passed" << std::endl;
}

// Fails on the first `-- TODO(migrate):` line of any migration file.
void RefuseTodos(const std::string& db_name, const std::vector<MigrationFile>& files) {
  for (const MigrationFile& file : files) {
    for (const auto& [path, sql] :
         {std::pair{&file.up_path, &file.up_sql}, std::pair{&file.down_path, &file.down_sql}}) {
      std::istringstream lines(*sql);
      std::string line;
      for (int number = 1; std::getline(lines, line); ++number) {
        if (line.rfind(kTodoMarker, 0) != 0) continue;
        throw MigrateError(ExitCode::kCheckFailed,
                           "check failed on database " + db_name + ": " + *path + ":" +
                               std::to_string(number) +
                               " holds an unresolved TODO of migrate new --autogenerate:\n  " +
                               line + "\nResolve it (the line says how), then delete the line.");
      }
    }
  }
}

}  // namespace

std::string ConninfoWithDatabase(const std::string& url, const std::string& database) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &error);
  if (parsed == nullptr) {
    if (error != nullptr) PQfreemem(error);
    throw MigrateError(ExitCode::kUsage, "invalid database URL " + RedactUnparsedUrl(url));
  }
  auto quote = [](const std::string& value) {
    std::string quoted = "'";
    for (char c : value) {
      if (c == '\'' || c == '\\') quoted += '\\';
      quoted += c;
    }
    return quoted + "'";
  };
  std::string conninfo;
  for (PQconninfoOption* option = parsed; option->keyword != nullptr; ++option) {
    const std::string keyword = option->keyword;
    std::string value;
    if (keyword == "dbname") {
      value = database;
    } else if (option->val != nullptr && option->val[0] != '\0') {
      value = option->val;
    } else {
      continue;
    }
    if (!conninfo.empty()) conninfo += ' ';
    conninfo += keyword + "=" + quote(value);
  }
  PQconninfoFree(parsed);
  return conninfo;
}

void RunCheck(const Options& options, std::ostream& out) {
  // What the watcher drops on a signal: the current target's server and
  // scratch database (guarded: the main thread changes them).
  struct Current {
    absl::Mutex mutex;
    const TargetDatabase* target ABSL_GUARDED_BY(mutex) = nullptr;
    std::string scratch ABSL_GUARDED_BY(mutex);
  } current;

  SignalWatcher watcher([&](int signal) {
    absl::MutexLock lock(&current.mutex);
    if (current.target == nullptr || current.scratch.empty()) return;
    try {
      // A session of its own: the main thread's may be busy with a migration.
      Connection conn(DatabaseUrl(current.target->url_source, current.target->url));
      pqxx::nontransaction tx(conn);
      tx.exec(DropDatabaseSql(conn, current.scratch));
    } catch (const std::exception&) {
      // The main thread drops it again while unwinding.
    }
    (void)signal;
  });

  for (const TargetDatabase& target : options.targets) {
    try {
      CheckTarget(options, target, out, watcher, [&](const std::string* scratch) {
        absl::MutexLock lock(&current.mutex);
        current.target = scratch == nullptr ? nullptr : &target;
        current.scratch = scratch == nullptr ? "" : *scratch;
      });
    } catch (...) {
      if (const int signal = watcher.received(); signal != 0) {
        throw MigrateError(static_cast<ExitCode>(128 + signal),
                           std::string("interrupted by ") +
                               (signal == SIGINT ? "SIGINT" : "SIGTERM") +
                               " while checking database " + target.spec->name +
                               "; the scratch database was dropped.");
      }
      throw;
    }
  }
}

}  // namespace migrate
}  // namespace microblog
