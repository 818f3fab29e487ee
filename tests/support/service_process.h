// Running a microblog service binary for end-to-end tests.
//
// PrepareUserDatabase() / PreparePostDatabase() give a test its own database,
// migrated by the real `migrate` binary, and the URL the service uses to reach
// it as its own least-privileged role. ServiceProcess starts the real service
// binary on a free loopback port and waits until its gRPC health check says
// SERVING, so that a test can talk to it right away:
//
//   MigratedDatabase db = PrepareUserDatabase(SharedCluster());  // shared_cluster.h
//   ServiceProcess service(USER_SERVICE_BIN, {{"USER_DATABASE_URL", db.service_url}});
//   auto stub = microblog::user::v1::UserService::NewStub(service.NewChannel());
//
// Binary paths come from compile definitions of the test (e.g.
// USER_SERVICE_BIN); MIGRATE_BIN and MICROBLOG_SOURCE_DIR are compiled into
// this library. Not thread-safe: use a ServiceProcess from one thread (the
// channels it hands out are thread-safe, as all gRPC channels are).
#ifndef MICROBLOG_TESTS_SUPPORT_SERVICE_PROCESS_H_
#define MICROBLOG_TESTS_SUPPORT_SERVICE_PROCESS_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>

#include "grpc/health/v1/health.pb.h"
#include "support/child_process.h"
#include "support/pg_cluster.h"

namespace microblog {
namespace test_support {

// A fresh, migrated database of one service.
struct MigratedDatabase {
  std::string name;           // database name, unique within the cluster
  std::string superuser_url;  // for test set-up and inspection
  std::string service_url;    // as the service's own role (user_service / post_service)
  std::string service_role;   // that role's name
};

// Creates a database with a name never used before in this process
// (user_db_<pid>_<n>), creates the role `user_service` unless it exists (roles
// are cluster-wide), and runs `migrate up --target user` on it. Throws
// std::runtime_error with migrate's output when migrating fails.
MigratedDatabase PrepareUserDatabase(PgCluster& cluster);
// The same for post-service: post_db_<pid>_<n>, role `post_service`,
// `migrate up --target post`.
MigratedDatabase PreparePostDatabase(PgCluster& cluster);

using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

// Waits until the gRPC server at `address` answers Health/Check (service "")
// with SERVING, for servers not started through ServiceProcess (a fixed
// address, TLS). Each check waits for the connection (wait_for_ready), so
// this thread drives reconnection instead of gRPC's 5 s backup poller.
bool WaitUntilServing(
    const std::string& address, std::chrono::milliseconds timeout,
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials());

class ServiceProcess {
 public:
  // Starts `binary` with the test's environment plus `env`, and
  // LISTEN_ADDRESS set to 127.0.0.1:<free port> unless `env` sets it. Waits up to `startup_timeout`
  // until grpc.health.v1.Health/Check (service "") answers SERVING. Throws
  // std::runtime_error, carrying the process output, when the process exits
  // or is not SERVING in time. A start that failed because another process
  // grabbed the port is retried on a new port. A non-empty `command_prefix`
  // runs the binary through a program that execs it, the same process
  // (e.g. {"prlimit", "--nofile=512", "--"} for a lower open-file limit).
  ServiceProcess(const std::string& binary, const EnvVars& env,
                 std::chrono::milliseconds startup_timeout = std::chrono::seconds(60),
                 const std::vector<std::string>& command_prefix = {});
  // Kills the process (SIGKILL) if it still runs.
  ~ServiceProcess() = default;

  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  // "127.0.0.1:<port>" (or the LISTEN_ADDRESS given).
  const std::string& address() const { return address_; }
  // Where it serves Prometheus metrics: METRICS_ADDRESS as given, else
  // "127.0.0.1:<another free port>"; empty when the test disabled them.
  const std::string& metrics_address() const { return metrics_address_; }
  // A new insecure channel to the service. Each call makes a channel with its
  // own connection (channel args make it unique), so tests can simulate
  // independent clients.
  std::shared_ptr<grpc::Channel> NewChannel() const;

  // One health check of `service` ("" = the whole server) with `timeout`;
  // nullopt when the call itself fails (process gone, server shutting down,
  // unknown service name).
  std::optional<ServingStatus> CheckHealth(
      std::chrono::milliseconds timeout = std::chrono::seconds(5),
      const std::string& service = "") const;
  // Polls CheckHealth() until it returns `wanted` or `timeout` passes.
  // Returns whether it got there.
  bool WaitForHealth(ServingStatus wanted, std::chrono::milliseconds timeout) const;

  // The process id (of the binary itself: a command prefix execs it).
  pid_t pid() const { return child_->pid(); }
  // Sends `signal` (e.g. SIGTERM) to the process.
  void Signal(int signal) { child_->Signal(signal); }
  // As ChildProcess::WaitExit().
  std::optional<int> WaitExit(std::chrono::milliseconds timeout) {
    return child_->WaitExit(timeout);
  }
  bool Running() { return child_->Running(); }
  // Everything the process wrote to stdout and stderr so far.
  std::string output() const { return child_->ReadOutput(); }

 private:
  // One start attempt; returns false when the process exited before serving
  // (e.g. port taken), throws on timeout.
  bool TryStart(const std::string& binary, const EnvVars& env,
                std::chrono::milliseconds startup_timeout,
                const std::vector<std::string>& command_prefix);

  std::string address_;
  std::string metrics_address_;
  std::unique_ptr<ChildProcess> child_;
};

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_SERVICE_PROCESS_H_
