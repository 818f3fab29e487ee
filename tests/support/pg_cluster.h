// A throwaway PostgreSQL 15 cluster owned by one test binary.
//
// Start() runs initdb and pg_ctl in a fresh short temp dir (/tmp/mbpg-XXXXXX, so
// the Unix socket path stays under the 107-byte limit). The server listens only
// on a Unix socket in that dir (listen_addresses=''), uses trust auth and
// fsync=off for speed; its superuser is always called `postgres`. When the test
// runs as root (initdb refuses root), every PostgreSQL command runs as the
// `postgres` OS user through `runuser -u postgres --` and the dir is chowned to
// it. Binaries come from /usr/lib/postgresql/15/bin, or env PG_BIN_DIR.
//
//   std::unique_ptr<microblog::test_support::PgCluster> pg =
//       microblog::test_support::PgCluster::Start();
//   std::string url = pg->CreateDatabase("user_db");
//
// Containers (tests/e2e/images_test.cc) cannot use the socket: Start(TcpListen)
// also listens on one TCP address and trusts the clients of one CIDR range
// (pg_hba.conf), e.g. a podman network's gateway and subnet.
//
// Starting a cluster takes a couple of seconds: share one per test binary
// (SharedCluster(), shared_cluster.h) and give each test its own database. If the test process dies
// without running the destructor (SIGKILL, ctest timeout), a detached watchdog stops the server and
// removes the directory within about a second. Not thread-safe.
#ifndef MICROBLOG_TESTS_SUPPORT_PG_CLUSTER_H_
#define MICROBLOG_TESTS_SUPPORT_PG_CLUSTER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace microblog {
namespace test_support {

class PgCluster {
 public:
  // Besides the socket: listen on `address` (an IP address of this host) at
  // a free port, and trust connections from `trusted_cidr` (no password).
  struct TcpListen {
    std::string address;
    std::string trusted_cidr;
  };

  // Creates and starts a cluster. Throws std::runtime_error carrying the
  // initdb / pg_ctl output when that fails (GoogleTest reports it as a failure
  // of the test or suite set-up that called Start()).
  static std::unique_ptr<PgCluster> Start();
  // The same, also listening on TCP as `tcp` says (see tcp_port()).
  static std::unique_ptr<PgCluster> Start(const TcpListen& tcp);

  // Stops the server (pg_ctl stop -m immediate) and removes the temp dir.
  ~PgCluster();

  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // Stops the server (pg_ctl stop -m fast), e.g. for "database down" tests.
  // Throws std::runtime_error if pg_ctl fails.
  void Stop();
  // Starts the server again after Stop(): same socket dir, same data.
  // Throws std::runtime_error if pg_ctl fails.
  void Restart();

  // The directory holding the server's socket (and the cluster's data).
  const std::string& socket_dir() const { return dir_; }
  // The TCP port of Start(TcpListen); 0 when the cluster listens on the
  // socket only.
  int tcp_port() const { return tcp_port_; }

  // libpq URI for `db` as the superuser, over the socket:
  // postgresql:///DB?host=SOCKET_DIR&user=postgres
  std::string SuperuserUrl(const std::string& db = "postgres") const;
  // libpq URI for `db` as `user` over the socket (no password: trust auth).
  std::string UrlFor(const std::string& db, const std::string& user) const;

  // CREATE DATABASE `db` (owned by the superuser); returns its superuser URL.
  std::string CreateDatabase(const std::string& db);
  // CREATE ROLE `role` LOGIN; returns the URL for `db` as that role.
  std::string CreateRole(const std::string& role, const std::string& db);
  // Runs `sql` (may hold several statements) in `db` as the superuser, outside
  // any transaction block (so CREATE DATABASE works). Throws pqxx exceptions.
  void Exec(const std::string& db, const std::string& sql);
  // The first column of the first row `sql` returns in `db`, as text ("" for
  // NULL). Throws pqxx exceptions.
  std::string Query(const std::string& db, const std::string& sql) const;

  // --- Streaming replicas ---
  // A hot-standby streaming replica of this cluster: `pg_basebackup -R`
  // (as the superuser, which may replicate; initdb's pg_hba.conf trusts
  // local replication connections, and wal_level=replica is the default)
  // into a fresh temp dir, started on its own socket there. It has
  // everything committed before the call; commits after it are replayed
  // `apply_delay` after the primary made them (recovery_min_apply_delay,
  // in effect from the start). Its Stop(), Restart(), Query() and URLs work
  // as for a primary; writes fail (read-only). Throws std::runtime_error
  // with the tool output.
  std::unique_ptr<PgCluster> StartReplica(
      std::chrono::milliseconds apply_delay = std::chrono::milliseconds(0));
  // On a replica: waits up to `timeout` until it replayed everything
  // `primary` had written when the call began. False when it did not.
  bool WaitForReplay(const PgCluster& primary, std::chrono::milliseconds timeout) const;

 private:
  explicit PgCluster(std::string dir);
  // A fresh temp dir with its watchdog.
  static std::unique_ptr<PgCluster> MakeDir();

  // Runs a PostgreSQL binary (as `postgres` when we are root); returns its
  // exit code and output.
  int RunPgTool(const std::string& tool, const std::vector<std::string>& args,
                std::string* output) const;
  void StartServer();
  // argv prefix running PostgreSQL's `tool` (through runuser when root).
  std::vector<std::string> PgToolCommand(const std::string& tool) const;
  // Cleans up after us if this process dies without running the destructor.
  void StartWatchdog() const;

  std::string dir_;
  std::string listen_address_;  // '' = socket only
  int tcp_port_ = 0;
  bool running_ = false;
};

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_PG_CLUSTER_H_
