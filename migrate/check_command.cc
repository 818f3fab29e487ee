#include "migrate/check_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
#include "migrate/connection.h"
#include "migrate/database_migrator.h"
#include "migrate/database_url.h"
#include "migrate/errors.h"
#include "migrate/migration_files.h"
#include "migrate/schema_snapshot.h"

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

std::string DropSql(pqxx::connection_base& conn, const std::string& name) {
  return "DROP DATABASE IF EXISTS " + conn.quote_name(name) + " WITH (FORCE)";
}

// A database created for the check on the server of `server` and dropped
// again by Drop() or the destructor.
class ScratchDatabase {
 public:
  ScratchDatabase(const TargetDatabase& target, const DatabaseUrl& server, std::string name)
      : name_(std::move(name)),
        url_(std::string("the scratch database of ") + target.url_source,
             ConninfoWithDatabase(server.url(), name_)),
        admin_(std::make_unique<Connection>(server)) {
    pqxx::nontransaction tx(*admin_);
    pqxx::row role = tx.exec1(
        "SELECT current_user, rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user");
    const std::string role_name = role[0].as<std::string>();
    if (!role[1].as<bool>()) throw NoCreatedb(target, role_name, "");
    try {
      tx.exec("CREATE DATABASE " + tx.quote_name(name_));
    } catch (const pqxx::insufficient_privilege& e) {
      throw NoCreatedb(target, role_name, e.what());
    }
    created_ = true;
  }
  ~ScratchDatabase() {
    try {
      Drop();
    } catch (const std::exception&) {
      // Reported by Drop() callers; a destructor only tries.
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& name() const { return name_; }
  const DatabaseUrl& url() const { return url_; }

  // Drops the database (ending any session still in it). Throws pqxx errors.
  void Drop() {
    if (!created_) return;
    pqxx::nontransaction tx(*admin_);
    tx.exec(DropSql(*admin_, name_));
    created_ = false;
  }

 private:
  static MigrateError NoCreatedb(const TargetDatabase& target, const std::string& role,
                                 const std::string& server_message) {
    return MigrateError(
        ExitCode::kCheckNoCreatedb,
        std::string("migrate check needs to create a scratch database on the server of "
                    "database ") +
            target.spec->name + " (" + target.url_source + "), but role \"" + role +
            "\" does not have the CREATEDB privilege" +
            (server_message.empty()
                 ? ""
                 : " (" + server_message.substr(0, server_message.find('\n')) + ")") +
            ". Run check as a role that has it (e.g. the superuser of a development or CI "
            "server), or grant it: ALTER ROLE \"" +
            role + "\" CREATEDB;");
  }

  std::string name_;
  DatabaseUrl url_;
  std::unique_ptr<Connection> admin_;
  bool created_ = false;
};

std::string Indent(const std::string& text, const std::string& prefix) {
  std::string result;
  std::istringstream lines(text);
  std::string line;
  bool first = true;
  while (std::getline(lines, line)) {
    if (!first) result += "\n" + prefix;
    result += line;
    first = false;
  }
  return result;
}

// Why the check failed: the first difference, both definitions, and the names
// of the others.
std::string DescribeDifferences(const std::vector<SchemaDifference>& differences,
                                const std::string& before_label, const std::string& after_label) {
  const SchemaDifference& first = differences.front();
  std::string what = first.kind + " " + first.name;
  if (!first.before.has_value()) {
    what += " is left behind: it exists after the down file, not at " + before_label;
  } else if (!first.after.has_value()) {
    what += " is missing: it exists at " + before_label + ", not after the down file";
  } else {
    what += " differs";
  }
  const size_t width = std::max(before_label.size(), after_label.size()) + 1;
  auto line = [&](const std::string& label, const std::optional<std::string>& definition) {
    std::string padded = label + ":" + std::string(width - label.size(), ' ');
    return "    " + padded +
           Indent(definition.value_or("(absent)"), std::string(4 + width + 1, ' ')) + "\n";
  };
  std::string text =
      "  " + what + ":\n" + line(before_label, first.before) + line(after_label, first.after);
  if (differences.size() > 1) {
    text += "  " + std::to_string(differences.size() - 1) + " more difference" +
            (differences.size() > 2 ? "s" : "") + ":";
    const size_t shown = std::min<size_t>(differences.size(), 6);
    for (size_t i = 1; i < shown; ++i) {
      text += (i == 1 ? " " : ", ") + differences[i].kind + " " + differences[i].name;
    }
    if (differences.size() > shown) text += ", ...";
    text += "\n";
  }
  return text;
}

std::string ScratchName(const std::string& target) {
  std::random_device random;
  std::ostringstream name;
  name << "migrate_check_" << target << "_" << getpid() << "_" << std::hex << (random() & 0xffffff);
  return name.str();
}

void CheckTarget(const Options& options, const TargetDatabase& target, std::ostream& out,
                 const SignalWatcher& watcher,
                 std::function<void(const std::string*)> set_scratch) {
  const std::string db_name = target.spec->name;
  const std::vector<MigrationFile> files =
      LoadMigrationFiles(options.migrations_dir + "/" + db_name);
  const int latest = static_cast<int>(files.size());
  DatabaseUrl server(target.url_source, target.url);

  auto check_interrupted = [&watcher] {
    if (watcher.received() != 0) throw std::runtime_error("interrupted");
  };
  const std::string scratch_name = ScratchName(db_name);
  set_scratch(&scratch_name);
  ScratchDatabase scratch(target, server, scratch_name);
  check_interrupted();
  out << db_name << ": checking " << latest << " migrations in scratch database " << scratch.name()
      << " (" << server.Endpoint() << ")" << std::endl;

  std::ostringstream migrator_log;  // its per-file lines; ours are shorter
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

    std::vector<SchemaSnapshot> at(latest + 1);
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
  out << db_name << ": check passed; dropped scratch database " << scratch.name() << std::endl;
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
      tx.exec(DropSql(conn, current.scratch));
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
