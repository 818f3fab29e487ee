// A bounded pool of libpqxx connections with prepared statements (or, for
// a transaction-mode pooler such as PgBouncer, without: see
// ConnectionPoolOptions::prepared_statements).
//
// Each request checks a connection out with Run(), which returns it on every
// path, exceptions included. A connection that broke (the database restarted
// or went away) is dropped and replaced by a fresh one on a later checkout,
// never reused; while the database is down, calls fail fast with UNAVAILABLE
// instead of hanging, and the pool recovers by itself once it is back.
//
//   ConnectionPoolOptions options;
//   options.url = url;
//   options.size = 8;
//   options.prepare = [](pqxx::connection& c) {
//     c.prepare("get_user", "SELECT ... WHERE id = $1");
//   };
//   ConnectionPool pool(std::move(options));
//   absl::StatusOr<User> user = pool.Run<User>(deadline,
//       [&](pqxx::connection& c) -> absl::StatusOr<User> {
//         pqxx::read_transaction tx(c);
//         pqxx::result r = pool.Exec(tx, kGetUser, id);  // a NamedStatement
//         ...
//       });
//
// Error mapping done by Run (the callback may return its own statuses, and
// should catch the pqxx exceptions it can interpret, e.g. unique_violation):
//   pqxx::broken_connection, connect failure   -> UNAVAILABLE
//   pqxx::in_doubt_error (commit outcome lost) -> UNAVAILABLE
//   statement timeout / query_canceled         -> DEADLINE_EXCEEDED
//   no connection free before the deadline     -> DEADLINE_EXCEEDED
//   any other exception                        -> INTERNAL (cause logged)
//
// Metrics (with ConnectionPoolOptions::metrics), labelled pool=<name>:
//   microblog_db_pool_connections{state="in_use"|"idle"}  gauges
//   microblog_db_pool_max_connections                     gauge (size)
//   microblog_db_pool_acquisitions_total                  every checkout
//   microblog_db_pool_waits_total                         checkouts that waited
//   microblog_db_pool_wait_seconds                        histogram of those waits
//
// Thread-safety: all methods are thread-safe. Not copyable or movable
// (libpqxx connections are not).
#ifndef MICROBLOG_COMMON_DB_CONNECTION_POOL_H_
#define MICROBLOG_COMMON_DB_CONNECTION_POOL_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/connection>
#include <pqxx/result>
#include <pqxx/transaction_base>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/base/metrics.h"
#include "common/db/named_statement.h"

// libpq's connection (PGconn), for Ping().
struct pg_conn;

namespace microblog {

struct ConnectionPoolOptions {
  std::string url;  // libpq connection string or URI
  std::size_t size = 8;
  // Called on every new connection, to prepare statements, when
  // prepared_statements is on (never when off). May throw.
  std::function<void(pqxx::connection&)> prepare;
  // On (DB_PREPARED_STATEMENTS=on): each new connection gets `prepare` and
  // `SET statement_timeout`, and Exec() runs statements by name.
  // Off: nothing is bound to the session, as a transaction-mode pooler
  // (PgBouncer pool_mode=transaction) requires, since each transaction may
  // run on another server connection: no prepared statement (Exec() sends
  // unnamed statements), no SET. The statement timeout is then the server
  // connection's: set it where the pooler's server connections get it
  // (PgBouncer's connect_query, or ALTER ROLE ... SET statement_timeout);
  // the pool logs a warning once when its first connection has none.
  bool prepared_statements = true;
  // Per-statement limit set on each connection (statement_timeout), with
  // prepared_statements on.
  std::chrono::milliseconds statement_timeout{10000};
  // libpq connect_timeout for new pooled connections (whole seconds, at
  // least 1). Ping() uses its deadline instead.
  std::chrono::seconds connect_timeout{2};
  // Where the pool reports its metrics (see above), if anywhere; must
  // outlive the pool. `name` is the `pool` label.
  Registry* metrics = nullptr;
  std::string name = "primary";
};

class ConnectionPool {
 public:
  // Connects lazily: construction never touches the database.
  explicit ConnectionPool(ConnectionPoolOptions options);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Runs `fn` on a checked-out connection, waiting at most until `deadline`
  // for a free one, and maps exceptions as described above. `fn` is called
  // at most once, before Run returns.
  template <typename T>
  absl::StatusOr<T> Run(Clock::time_point deadline,
                        absl::FunctionRef<absl::StatusOr<T>(pqxx::connection&)> fn) {
    absl::StatusOr<T> result = absl::InternalError("not run");
    absl::Status status = RunErased(deadline, [&](pqxx::connection& c) {
      result = fn(c);
      return result.ok() ? absl::OkStatus() : result.status();
    });
    if (!status.ok()) return status;
    return result;
  }

  // Same, for callbacks returning absl::Status.
  absl::Status RunStatus(Clock::time_point deadline,
                         absl::FunctionRef<absl::Status(pqxx::connection&)> fn) {
    return RunErased(deadline, fn);
  }

  // How this pool's connections run statements.
  StatementMode statement_mode() const {
    return options_.prepared_statements ? StatementMode::kPrepared : StatementMode::kUnnamed;
  }

  // Runs `statement` with `args` in `tx` (on one of this pool's
  // connections) the way statement_mode() says: stores call this, never
  // exec_prepared or exec_params themselves. Throws what libpqxx throws.
  template <typename... Args>
  pqxx::result Exec(pqxx::transaction_base& tx, const NamedStatement& statement,
                    Args&&... args) const {
    return microblog::Exec(tx, statement_mode(), statement, std::forward<Args>(args)...);
  }

  // OK when the database answers a trivial query before `deadline`. Used by
  // the health checker. Runs on a connection of its own, outside the pool
  // (kept from one ping to the next): with every pooled connection busy
  // under load, a ping waiting for one would report a busy service as
  // unhealthy. Connecting and the query both end at `deadline`, even
  // against a server that accepts connections and never answers
  // (connect_timeout and statement_timeout do not apply; only resolving a
  // host name can take longer). Errors: DEADLINE_EXCEEDED when the deadline
  // passed first, UNAVAILABLE when the database refused or failed. A failed
  // ping closes its connection and discards the pool's idle connections
  // (they are suspect too). Pings are serialized.
  absl::Status Ping(Clock::time_point deadline) ABSL_LOCKS_EXCLUDED(ping_mu_);

 private:
  absl::Status RunErased(Clock::time_point deadline,
                         absl::FunctionRef<absl::Status(pqxx::connection&)> fn);
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect();
  // Drops every idle connection and makes checked-out ones be dropped on
  // return: after one broken connection the others are suspect too.
  void DiscardAll() ABSL_LOCKS_EXCLUDED(mu_);
  // Brings the connection gauges up to date.
  void UpdateGaugesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a caller may check a connection out now (what RunErased waits for).
  bool Available() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || checked_out_ < options_.size;
  }

  // The pool's metrics, all null without ConnectionPoolOptions::metrics.
  struct Metrics {
    Gauge* in_use = nullptr;
    Gauge* idle = nullptr;
    Counter* acquisitions = nullptr;
    Counter* waits = nullptr;
    Histogram* wait_seconds = nullptr;
  };
  static Metrics AddMetrics(const ConnectionPoolOptions& options);

  const ConnectionPoolOptions options_;
  const std::string connect_string_;  // url + connect_timeout
  const Metrics metrics_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  std::size_t checked_out_ ABSL_GUARDED_BY(mu_) = 0;
  std::size_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped when a broken connection is seen
  std::once_flag timeout_checked_;  // prepared_statements off: statement_timeout looked at
  // Ping() speaks libpq directly: libpqxx 6 has no way to bound a connect
  // or a query by a deadline.
  struct PingConnectionCloser {
    void operator()(pg_conn* connection) const;
  };
  // Ping() without the bookkeeping of a failure.
  absl::Status PingLocked(Clock::time_point deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(ping_mu_);

  absl::Mutex ping_mu_;
  std::unique_ptr<pg_conn, PingConnectionCloser> ping_conn_ ABSL_GUARDED_BY(ping_mu_);
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_DB_CONNECTION_POOL_H_
