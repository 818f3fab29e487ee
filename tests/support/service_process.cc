#include "support/service_process.h"

#include <unistd.h>

#include <atomic>
#include <stdexcept>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <pqxx/pqxx>

#include "grpc/health/v1/health.grpc.pb.h"
#include "support/eventually.h"
#include "support/test_tokens.h"

#ifndef MIGRATE_BIN
#error "MIGRATE_BIN must be defined (path of the migrate binary)"
#endif
#ifndef MICROBLOG_SOURCE_DIR
#error "MICROBLOG_SOURCE_DIR must be defined (the repository root, holding migrations/)"
#endif

namespace microblog {
namespace test_support {
namespace {

constexpr std::chrono::seconds kMigrateTimeout(60);
constexpr int kStartAttempts = 3;

// Creates `role` unless it exists: roles are shared by every database of the
// cluster, while each test prepares databases of its own.
void EnsureRole(PgCluster& cluster, const std::string& role) {
  pqxx::connection conn(cluster.SuperuserUrl());
  pqxx::nontransaction tx(conn);
  pqxx::result exists = tx.exec("SELECT 1 FROM pg_roles WHERE rolname = " + tx.quote(role));
  if (exists.empty()) tx.exec("CREATE ROLE " + tx.quote_name(role) + " LOGIN");
}

MigratedDatabase PrepareDatabase(PgCluster& cluster, const std::string& target,
                                 const std::string& url_variable) {
  static std::atomic<int> counter{0};
  MigratedDatabase db;
  db.name = target + "_db_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  db.service_role = target + "_service";
  db.superuser_url = cluster.CreateDatabase(db.name);
  EnsureRole(cluster, db.service_role);
  db.service_url = cluster.UrlFor(db.name, db.service_role);

  // `migrate` reads ./migrations, so it runs from the repository root.
  RunResult migrated =
      RunToCompletion(MIGRATE_BIN, {"up", "--target", target}, {{url_variable, db.superuser_url}},
                      kMigrateTimeout, MICROBLOG_SOURCE_DIR);
  if (migrated.exit_code != 0) {
    throw std::runtime_error("migrate up --target " + target + " failed (exit " +
                             std::to_string(migrated.exit_code) + "):\n" + migrated.output);
  }
  return db;
}

}  // namespace

MigratedDatabase PrepareUserDatabase(PgCluster& cluster) {
  return PrepareDatabase(cluster, "user", "USER_DATABASE_URL");
}

MigratedDatabase PreparePostDatabase(PgCluster& cluster) {
  return PrepareDatabase(cluster, "post", "POST_DATABASE_URL");
}

ServiceProcess::ServiceProcess(const std::string& binary, const EnvVars& env,
                               std::chrono::milliseconds startup_timeout,
                               const std::vector<std::string>& command_prefix) {
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    if (TryStart(binary, env, startup_timeout, command_prefix)) return;
  }
  throw std::runtime_error(binary + " exited during start-up " + std::to_string(kStartAttempts) +
                           " times; last output:\n" + child_->ReadOutput());
}

bool ServiceProcess::TryStart(const std::string& binary, const EnvVars& env,
                              std::chrono::milliseconds startup_timeout,
                              const std::vector<std::string>& command_prefix) {
  // A test that places replicas itself (several loopback addresses on one
  // port, behind FakeDns) gives LISTEN_ADDRESS.
  const auto given = env.find("LISTEN_ADDRESS");
  address_ = given != env.end() ? given->second : "127.0.0.1:" + std::to_string(FreeTcpPort());
  EnvVars full_env = env;
  full_env["LISTEN_ADDRESS"] = address_;
  AddDefaultTokenEnv(full_env);
  // Metrics on a port of their own too, unless the test chose: the
  // services' default ports would clash between tests running at once.
  if (full_env.count("METRICS_ADDRESS") == 0) {
    full_env["METRICS_ADDRESS"] = "127.0.0.1:" + std::to_string(FreeTcpPort());
  }
  metrics_address_ = full_env["METRICS_ADDRESS"];
  // Tests read the per-RPC lines of the calls they make: all of them at
  // info, unless the test is about the sampling or the budget of client
  // errors (AccessLogPolicy).
  if (full_env.count("ACCESS_LOG_SAMPLE_EVERY") == 0) full_env["ACCESS_LOG_SAMPLE_EVERY"] = "1";
  // The transport the TLS files given imply (the services' own default,
  // mtls, needs certificates and a policy): plaintext without any.
  if (full_env.count("TRANSPORT_SECURITY") == 0) {
    full_env["TRANSPORT_SECURITY"] = full_env.count("TLS_CLIENT_CA_FILE") > 0 ? "mtls"
                                     : full_env.count("TLS_CERT_FILE") > 0    ? "tls"
                                                                              : "insecure";
  }
  if (full_env.count("ACCESS_LOG_CLIENT_ERRORS_PER_SECOND") == 0) {
    full_env["ACCESS_LOG_CLIENT_ERRORS_PER_SECOND"] = "0";
  }
  if (command_prefix.empty()) {
    child_ = std::make_unique<ChildProcess>(binary, std::vector<std::string>{}, full_env);
  } else {
    std::vector<std::string> args(command_prefix.begin() + 1, command_prefix.end());
    args.push_back(binary);
    child_ = std::make_unique<ChildProcess>(command_prefix.front(), args, full_env);
  }

  bool exited = false;
  const bool serving = Eventually(
      [&] {
        exited = !child_->Running();
        return exited || CheckHealth(std::chrono::milliseconds(500)) ==
                             grpc::health::v1::HealthCheckResponse::SERVING;
      },
      startup_timeout);
  if (exited) return false;
  if (serving) return true;
  throw std::runtime_error(binary + " was not SERVING within " +
                           std::to_string(startup_timeout.count()) + " ms; output:\n" +
                           child_->ReadOutput());
}

std::shared_ptr<grpc::Channel> ServiceProcess::NewChannel() const {
  grpc::ChannelArguments args;
  // Without this, channels with equal arguments share one connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
}

std::optional<ServingStatus> ServiceProcess::CheckHealth(std::chrono::milliseconds timeout,
                                                         const std::string& service) const {
  auto stub = grpc::health::v1::Health::NewStub(NewChannel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return std::nullopt;
  return response.status();
}

bool ServiceProcess::WaitForHealth(ServingStatus wanted, std::chrono::milliseconds timeout) const {
  return Eventually([&] { return CheckHealth(std::chrono::milliseconds(1000)) == wanted; },
                    timeout);
}

bool WaitUntilServing(const std::string& address, std::chrono::milliseconds timeout,
                      std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub =
      grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(address, credentials, args));
  return Eventually(
      [&] {
        grpc::health::v1::HealthCheckRequest request;
        grpc::health::v1::HealthCheckResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
        context.set_wait_for_ready(true);
        return stub->Check(&context, request, &response).ok() &&
               response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
      },
      timeout);
}

}  // namespace test_support
}  // namespace microblog
