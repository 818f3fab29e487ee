// A throwaway PgBouncer (Debian's pgbouncer 1.18) in front of a throwaway
// PgCluster, in transaction pooling, for the tests of running behind a
// pooler.
//
// Start() writes a config into a fresh temp dir (/tmp/mbpgb-XXXXXX) and runs
// /usr/sbin/pgbouncer (or env PGBOUNCER_BIN) in the foreground as a child
// of the test. It listens only on a Unix socket in that dir, forwards every
// database name to the cluster's socket (`* = host=...`), pool_mode =
// transaction, auth_type = trust for the roles given, and a small
// default_pool_size, so that concurrent clients really share server
// connections. Every server connection gets `SET statement_timeout = 10000`
// (connect_query), as the README asks of deployments with
// DB_PREPARED_STATEMENTS=off. PgBouncer refuses to run as root: when the test runs as root
// the config says `user = postgres` (PgBouncer drops to it at start-up) and
// the dir belongs to that user, as PgCluster does for PostgreSQL.
//
//   static std::unique_ptr<PgBouncer> bouncer = PgBouncer::Start(SharedCluster());
//   std::string url = bouncer->UrlFor("user_db", "user_service");
//
// If the test process dies without running the destructor (SIGKILL, ctest
// timeout), a detached watchdog kills PgBouncer and removes the directory
// within about a second. Not thread-safe.
#ifndef MICROBLOG_TESTS_SUPPORT_PGBOUNCER_H_
#define MICROBLOG_TESTS_SUPPORT_PGBOUNCER_H_

#include <memory>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/pg_cluster.h"

namespace microblog {
namespace test_support {

struct PgBouncerOptions {
  // Server connections per (database, user) pair.
  int default_pool_size = 2;
  // How long a query may wait for a free server connection before
  // PgBouncer fails it and closes the client connection (08P01): also how
  // long a client connected before a database outage waits during it.
  int query_wait_timeout_s = 10;
  // The roles that may log in through it (trust: any password or none).
  std::vector<std::string> users = {"postgres", "user_service", "post_service"};
};

class PgBouncer {
 public:
  // Starts PgBouncer in front of `cluster` (which must outlive it) and
  // waits until a client can run a query through it. Throws
  // std::runtime_error carrying PgBouncer's output when it does not start.
  static std::unique_ptr<PgBouncer> Start(const PgCluster& cluster, PgBouncerOptions options = {});

  // Kills PgBouncer and removes the temp dir.
  ~PgBouncer();

  PgBouncer(const PgBouncer&) = delete;
  PgBouncer& operator=(const PgBouncer&) = delete;

  // libpq URI for `db` as `user` through the pooler:
  // postgresql:///DB?host=SOCKET_DIR&port=PORT&user=USER
  std::string UrlFor(const std::string& db, const std::string& user) const;
  // PgBouncer's log so far (for failure messages).
  std::string Log() const;

 private:
  explicit PgBouncer(std::string dir);
  void StartWatchdog() const;

  std::string dir_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_PGBOUNCER_H_
