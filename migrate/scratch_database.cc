#include "migrate/scratch_database.h"

#include <unistd.h>

#include <random>
#include <sstream>
#include <utility>

#include "migrate/check_command.h"
#include "migrate/errors.h"

namespace microblog {
namespace migrate {
namespace {

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
  try {
    tx.exec("CREATE DATABASE " + tx.quote_name(name_));
  } catch (const pqxx::insufficient_privilege& e) {
    throw NoCreatedb(target, role_name, e.what());
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
}

std::string ScratchName(const std::string& purpose, const std::string& target) {
  std::random_device random;
  std::ostringstream name;
  name << "migrate_" << purpose << "_" << target << "_" << getpid() << "_" << std::hex
       << (random() & 0xffffff);
  return name.str();
}

std::string DropDatabaseSql(pqxx::connection_base& conn, const std::string& name) {
  return "DROP DATABASE IF EXISTS " + conn.quote_name(name) + " WITH (FORCE)";
}

}  // namespace migrate
}  // namespace microblog
