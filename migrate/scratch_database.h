// Scratch databases: created on the server of a target's URL for `migrate
// check` and `migrate new --autogenerate`, and always dropped again.
//
// Usage:
//   ScratchDatabase scratch(target, server, ScratchName("check", "user"));
//   Connection conn(scratch.url());  ... work ...
//   scratch.Drop();  // or let the destructor try
//
// The role of the URL needs CREATEDB (or superuser); without it the
// constructor throws MigrateError(kCheckNoCreatedb) saying how to grant it.
// Drop() uses DROP DATABASE ... WITH (FORCE) (PostgreSQL 13+), which ends
// sessions still connected. Every live scratch database is also in a
// process-wide registry, so that DropAllScratchDatabases() (called by
// InterruptGuard on SIGINT / SIGTERM, interrupt_guard.h) can drop them from
// another thread. A ScratchDatabase itself is not thread-safe.
#ifndef MICROBLOG_MIGRATE_SCRATCH_DATABASE_H_
#define MICROBLOG_MIGRATE_SCRATCH_DATABASE_H_

#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "migrate/connection.h"
#include "migrate/database_url.h"
#include "migrate/options.h"

namespace microblog {
namespace migrate {

class ScratchDatabase {
 public:
  // Creates database `name` on `server` (the URL of `target`). Throws
  // MigrateError(kCheckNoCreatedb), MigrateError(kUnreachable) and pqxx
  // errors.
  ScratchDatabase(const TargetDatabase& target, const DatabaseUrl& server, std::string name);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& name() const { return name_; }
  const DatabaseUrl& url() const { return url_; }

  // Drops the database (ending any session still in it). Throws pqxx errors.
  void Drop();

 private:
  // Takes it out of the registry of live scratch databases.
  void Forget();

  std::string name_;
  DatabaseUrl url_;
  std::unique_ptr<Connection> admin_;
  bool created_ = false;
};

// "migrate_<purpose>_<target>_<pid>_<random>", unique on the server.
std::string ScratchName(const std::string& purpose, const std::string& target);

// Drops every scratch database not dropped yet, each from a session of its
// own, ending the sessions in them; errors are ignored (the owners drop
// them again while unwinding). Thread-safe.
void DropAllScratchDatabases();

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_SCRATCH_DATABASE_H_
