#include "migrate/scratch_database.h"

#include <unistd.h>

#include <map>
#include <random>
#include <sstream>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "migrate/errors.h"

namespace microblog {
namespace migrate {
namespace {

std::string DropDatabaseSql(pqxx::connection_base& conn, const std::string& name) {
  return "DROP DATABASE IF EXISTS " + conn.quote_name(name) + " WITH (FORCE)";
}

// The scratch databases alive in this process: name -> its server.
struct LiveScratchDatabases {
  absl::Mutex mu;
  std::map<std::string, DatabaseUrl> servers ABSL_GUARDED_BY(mu);
};

LiveScratchDatabases& Live() {
  static auto* live = new LiveScratchDatabases;
  return *live;
}

MigrateError NoCreatedb(const TargetDatabase& target, const std::string& role,
                        const std::string& server_message) {
  return MigrateError(
      ExitCode::kCheckNoCreatedb,
      std::string("migrate check and migrate new --autogenerate need to create a scratch "
                  "database on the server of database ") +
          target.spec->name + " (" + target.url_source + "), but role \"" + role +
          "\" does not have the CREATEDB privilege" +
          (server_message.empty()
               ? ""
               : " (" + server_message.substr(0, server_message.find('\n')) + ")") +
          ". Run them as a role that has it (e.g. the superuser of a development or CI "
          "server), or grant it: ALTER ROLE \"" +
          role + "\" CREATEDB;");
}

}  // namespace

ScratchDatabase::ScratchDatabase(const TargetDatabase& target, const DatabaseUrl& server,
                                 std::string name)
    : name_(std::move(name)),
      url_(std::string("the scratch database of ") + target.url_source,
           ConninfoWithDatabase(server.url(), name_)),
      admin_(std::make_unique<Connection>(server)) {
  pqxx::nontransaction tx(*admin_);
  pqxx::row role = tx.exec1(
      "SELECT current_user, rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user");
  const std::string role_name = role[0].as<std::string>();
  if (!role[1].as<bool>()) throw NoCreatedb(target, role_name, "");
  {
    // Before it exists: a signal right after CREATE DATABASE still finds it.
    absl::MutexLock lock(&Live().mu);
    Live().servers.emplace(name_, server);
  }
  try {
    tx.exec("CREATE DATABASE " + tx.quote_name(name_));
  } catch (const pqxx::insufficient_privilege& e) {
    Forget();
    throw NoCreatedb(target, role_name, e.what());
  } catch (...) {
    Forget();
    throw;
  }
  created_ = true;
}

ScratchDatabase::~ScratchDatabase() {
  try {
    Drop();
  } catch (const std::exception&) {
    // Reported by Drop() callers; a destructor only tries.
  }
}

void ScratchDatabase::Drop() {
  if (!created_) return;
  pqxx::nontransaction tx(*admin_);
  tx.exec(DropDatabaseSql(*admin_, name_));
  created_ = false;
  Forget();
}

void ScratchDatabase::Forget() {
  absl::MutexLock lock(&Live().mu);
  Live().servers.erase(name_);
}

void DropAllScratchDatabases() {
  absl::MutexLock lock(&Live().mu);
  for (const auto& [name, server] : Live().servers) {
    try {
      Connection conn(server);
      pqxx::nontransaction tx(conn);
      tx.exec(DropDatabaseSql(conn, name));
    } catch (const std::exception&) {
      // The owner drops it again while unwinding.
    }
  }
}

std::string ScratchName(const std::string& purpose, const std::string& target) {
  std::random_device random;
  std::ostringstream name;
  name << "migrate_" << purpose << "_" << target << "_" << getpid() << "_" << std::hex
       << (random() & 0xffffff);
  return name.str();
}

}  // namespace migrate
}  // namespace microblog
