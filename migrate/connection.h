// A libpqxx connection that also exposes libpq's PGconn.
//
// libpqxx 6 drops most of PostgreSQL's error fields: a failing migration must be
// reported with its statement position, detail, hint and context, which only
// libpq's PQresultErrorField gives. Connection is an ordinary
// pqxx::connection_base (transactions, exec_params, ...) whose connection
// policy remembers the PGconn it opened, so a migration file can be run with
// PQexec inside a pqxx transaction on the same session.
//
// Not thread-safe, like any libpq connection.
#ifndef MICROBLOG_MIGRATE_CONNECTION_H_
#define MICROBLOG_MIGRATE_CONNECTION_H_

#include <memory>
#include <string>

#include <libpq-fe.h>
#include <pqxx/pqxx>

#include "migrate/database_url.h"

namespace microblog {
namespace migrate {

namespace internal {

// Connects like pqxx::connection and remembers the handle.
class CapturingPolicy final : public pqxx::connect_direct {
 public:
  explicit CapturingPolicy(const std::string& options) : pqxx::connect_direct(options) {}
  handle do_startconnect(handle orig) override;
  handle do_dropconnect(handle orig) noexcept override;
  handle do_disconnect(handle orig) noexcept override;

  PGconn* handle_now() const { return handle_; }

 private:
  PGconn* handle_ = nullptr;
};

// Base class so that the policy is constructed before connection_base, which
// keeps a reference to it and connects in init().
struct PolicyHolder {
  explicit PolicyHolder(const std::string& options) : policy(options) {}
  CapturingPolicy policy;
};

}  // namespace internal

class Connection : private internal::PolicyHolder, public pqxx::connection_base {
 public:
  // Connects to `url`. Throws MigrateError(kUnreachable) naming the endpoint
  // and libpq's reason, with the password redacted.
  explicit Connection(const DatabaseUrl& url);
  ~Connection() noexcept;

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The libpq handle of the open session; owned by this object.
  PGconn* raw() const { return policy.handle_now(); }
};

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_CONNECTION_H_
