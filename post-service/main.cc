// post-service: serves microblog.post.v1.PostService from its own PostgreSQL
// database, checking authors with user-service over gRPC, and applies
// user-service's account deletions to the posts
// (cascade/user_event_consumer.h).
//
//   post-service [FLAGS]             serve (until SIGTERM)
//   post-service reconcile [FLAGS]   one reconciliation pass
//                                    (cascade/reconciler.h),
//                                    then exit: 0 done, 1 failed, 2 bad
//                                    configuration
//
// Configuration: environment variables or flags, the same for both
// (--help lists them).
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/db/connection_pool.h"
#include "common/db/read_router.h"
#include "common/exec/periodic_task.h"
#include "common/exec/worker_pool.h"
#include "common/rpc/rpc_metrics.h"
#include "common/service/access_tokens.h"
#include "common/service/probe.h"
#include "common/service/server.h"
#include "common/service/service_main.h"
#include "common/service/transport_security.h"
#include "post-service/cascade/deleted_authors_store.h"
#include "post-service/cascade/reconciler.h"
#include "post-service/cascade/revocation_refresh.h"
#include "post-service/cascade/user_event_consumer.h"
#include "post-service/grpc_author_checker.h"
#include "post-service/post_service.h"
#include "post-service/postgres_post_store.h"
#include "post-service/posts.h"
#include "post-service/revoked_tokens.h"
#include "post-service/user_service_channel.h"

namespace {

using microblog::ConfigOption;
using microblog::ServiceConfig;
using microblog::ServiceDescription;
namespace post = microblog::post;

const ServiceDescription kPostService = {
    "post-service",
    "Serves microblog.post.v1.PostService: publishes and lists posts. "
    "`post-service reconcile` instead makes one reconciliation pass and exits.",
    "0.0.0.0:50052",
    "0.0.0.0:9465",
    "POST_DATABASE_URL",
    "libpq URL of the posts database, e.g. postgresql://post_service@db:5432/posts",
    "POST_DATABASE_READ_URL",
    "Read replicas of the posts database (streaming standbys), as the post_service role: "
    "postgresql:// URIs separated by whitespace, or one keyword/value string; unset: every "
    "read on the primary."};

std::vector<ConfigOption> PostServiceOptions() {
  std::vector<ConfigOption> options = {
      {"USER_SERVICE_ADDR", "localhost:50051",
       "gRPC target of user-service: host:port, or dns:///host:port to balance over every "
       "address."},
      {"USER_SERVICE_TIMEOUT_MS", "2000",
       "Upper bound of one call to user-service (an author check, a reconciliation batch), in "
       "milliseconds."},
      {"USER_SERVICE_TLS_CA_FILE", "",
       "PEM CA bundle that signed user-service's certificate; "
       "setting any USER_SERVICE_TLS_* turns TLS on (empty CA: system roots)."},
      {"USER_SERVICE_TLS_CERT_FILE", "",
       "PEM client certificate chain for mutual TLS with user-service."},
      {"USER_SERVICE_TLS_KEY_FILE", "", "PEM private key of USER_SERVICE_TLS_CERT_FILE."},
      {"USER_EVENTS_WAIT_MS", "10000",
       "How long one long poll of user-service's event feed waits for news: the safety-net "
       "poll interval of the deletion cascade (wake-ups come at once)."},
      {"USER_EVENTS_MAX_BACKOFF_MS", "30000",
       "Longest pause between attempts while user-service or the database fail."},
      {"RECONCILE_BATCH_SIZE", "100", "Authors per BatchGetUsers call of reconciliation (1-100)."},
      {"RECONCILE_BATCHES_PER_SECOND", "10",
       "Rate bound of reconciliation's calls to user-service."},
  };
  for (ConfigOption& option : microblog::TokenVerifierOptions())
    options.push_back(std::move(option));
  return options;
}

// The settings of both modes besides ServiceConfig's own.
struct Settings {
  post::UserServiceChannelOptions user_service;
  post::UserEventConsumerOptions consumer;
  post::ReconcileOptions reconcile;
};

absl::StatusOr<Settings> ReadSettings(const ServiceConfig& config) {
  Settings settings;
  absl::StatusOr<int64_t> timeout_ms = config.values.GetInt("USER_SERVICE_TIMEOUT_MS", 1, 600000);
  if (!timeout_ms.ok()) return timeout_ms.status();
  absl::StatusOr<int64_t> wait_ms = config.values.GetInt("USER_EVENTS_WAIT_MS", 0, 30000);
  if (!wait_ms.ok()) return wait_ms.status();
  absl::StatusOr<int64_t> backoff_ms =
      config.values.GetInt("USER_EVENTS_MAX_BACKOFF_MS", 100, 3600000);
  if (!backoff_ms.ok()) return backoff_ms.status();
  absl::StatusOr<int64_t> batch = config.values.GetInt("RECONCILE_BATCH_SIZE", 1, 100);
  if (!batch.ok()) return batch.status();
  absl::StatusOr<int64_t> rate = config.values.GetInt("RECONCILE_BATCHES_PER_SECOND", 1, 1000);
  if (!rate.ok()) return rate.status();

  settings.user_service.target = config.values.GetString("USER_SERVICE_ADDR");
  settings.user_service.timeout = std::chrono::milliseconds(*timeout_ms);
  settings.user_service.tls_ca_file = config.values.GetString("USER_SERVICE_TLS_CA_FILE");
  settings.user_service.tls_cert_file = config.values.GetString("USER_SERVICE_TLS_CERT_FILE");
  settings.user_service.tls_key_file = config.values.GetString("USER_SERVICE_TLS_KEY_FILE");
  // mtls: every service-to-service connection too, with post-service's own
  // certificate as its identity towards user-service's policy.
  if (config.settings.transport_security == microblog::TransportSecurity::kMutualTls &&
      (settings.user_service.tls_ca_file.empty() || settings.user_service.tls_cert_file.empty())) {
    return absl::InvalidArgumentError(
        "TRANSPORT_SECURITY=mtls needs USER_SERVICE_TLS_CA_FILE, USER_SERVICE_TLS_CERT_FILE and "
        "USER_SERVICE_TLS_KEY_FILE (post-service's client certificate towards user-service)");
  }
  settings.consumer.wait = std::chrono::milliseconds(*wait_ms);
  settings.consumer.call_timeout = settings.user_service.timeout;
  settings.consumer.max_backoff = std::chrono::milliseconds(*backoff_ms);
  settings.reconcile.batch_size = static_cast<int>(*batch);
  settings.reconcile.batches_per_second = static_cast<int>(*rate);
  settings.reconcile.call_timeout = settings.user_service.timeout;
  return settings;
}

// The cascade's own connection: its transactions never wait for, nor take,
// one of the RPCs' connections.
microblog::ConnectionPoolOptions CascadePoolOptions(const ServiceConfig& config,
                                                    microblog::Registry* metrics) {
  microblog::ConnectionPoolOptions options =
      microblog::DatabasePoolOptions(config, &post::PostgresDeletedAuthorsStore::PrepareStatements);
  options.size = 1;
  options.metrics = metrics;
  options.name = "user_events";
  // Removing a prolific author deletes many rows in one statement.
  options.statement_timeout = std::chrono::minutes(5);
  return options;
}

int Reconcile(const ServiceConfig& config, const Settings& settings,
              const std::shared_ptr<grpc::Channel>& channel) {
  microblog::ConnectionPool pool(CascadePoolOptions(config, nullptr));
  post::PostgresDeletedAuthorsStore store(pool);
  std::unique_ptr<microblog::user::v1::UserService::Stub> users =
      microblog::user::v1::UserService::NewStub(channel);
  post::Reconciler reconciler(store, *users, settings.reconcile);
  absl::StatusOr<post::ReconcileReport> report = reconciler.RunOnce();
  if (!report.ok()) {
    microblog::Log(microblog::LogLevel::kError, "reconcile failed",
                   {{"code", absl::StatusCodeToString(report.status().code())},
                    {"cause", microblog::RedactUrl(std::string(report.status().message()))}});
    std::cout << "reconcile: FAILED: "
              << microblog::RedactUrl(std::string(report.status().message())) << "\n";
    return 1;
  }
  std::cout << "reconcile: checked " << report->authors_checked << " authors, "
            << report->authors_missing << " do not exist in user-service, removed "
            << report->posts_removed << " posts\n";
  if (!report->missing_users.empty()) {
    std::cout << "reconcile: users removed: " << absl::StrJoin(report->missing_users, ",")
              << (report->authors_missing > static_cast<int64_t>(report->missing_users.size())
                      ? ",..."
                      : "")
              << "\n";
  }
  return 0;
}

int Serve(const ServiceConfig& config, const Settings& settings,
          const std::shared_ptr<grpc::Channel>& channel,
          const std::shared_ptr<microblog::AuthorizationEnforcer>& authorization,
          const microblog::Authenticator& tokens, microblog::Registry& metrics) {
  std::unique_ptr<post::GrpcAuthorChecker> authors =
      post::GrpcAuthorChecker::Create(channel, settings.user_service.timeout, &metrics);
  microblog::ConnectionPoolOptions pool_options =
      microblog::DatabasePoolOptions(config, &post::PostgresPostStore::PrepareStatements);
  pool_options.metrics = &metrics;
  microblog::ConnectionPool pool(std::move(pool_options));
  // Reads that tolerate replication lag go to POST_DATABASE_READ_URL's
  // replicas (posts.h says which).
  microblog::ReadRouter router(
      pool, microblog::DatabaseReadOptions(config, &post::PostgresPostStore::PrepareStatements,
                                           &metrics));
  post::PostgresPostStore store(router);
  // As many database workers as connections: a worker never waits for one.
  microblog::WorkerPool db_workers("db-worker",
                                   static_cast<std::size_t>(config.database.pool_size));
  // The DeleteUser cascade, in the background, and the revocations of
  // access tokens it stores (password changes).
  microblog::ConnectionPool cascade_pool(CascadePoolOptions(config, &metrics));
  post::PostgresDeletedAuthorsStore cascade_store(cascade_pool);
  post::RevokedTokens revoked_tokens;
  post::RevocationRefresh revocation_refresh(cascade_store, revoked_tokens);
  (void)revocation_refresh.RunOnce();  // logged; the task below retries
  microblog::PeriodicTask refreshing("refresh-revocations", post::kRevocationRefresh,
                                     [&] { (void)revocation_refresh.RunOnce(); });

  post::Posts posts(store, *authors, db_workers, revoked_tokens, &metrics);
  post::PostServiceImpl service(posts, db_workers, config.settings.max_deadline,
                                {&tokens, authorization.get()});

  std::unique_ptr<microblog::user::v1::UserService::Stub> users =
      microblog::user::v1::UserService::NewStub(channel);
  post::Reconciler reconciler(cascade_store, *users, settings.reconcile);
  post::UserEventConsumer consumer(cascade_store, *users, reconciler, settings.consumer, &metrics);

  microblog::Log(microblog::LogLevel::kInfo, "post-service configured",
                 {{"database", microblog::RedactUrl(config.database_url)},
                  {"user_service", settings.user_service.target}});
  // Ready while our own database answers. user-service being down only
  // affects CreatePost and the cascade, and reads must keep being routed
  // here meanwhile.
  return microblog::RunServer(
      config.settings, kPostService.name,
      {{&service, microblog::post::v1::PostService::service_full_name()}},
      [&pool](microblog::Clock::time_point deadline) { return pool.Ping(deadline); }, nullptr,
      &metrics, authorization);
}

}  // namespace

int main(int argc, char** argv) {
  microblog::BlockShutdownSignals();

  const std::optional<std::string> probed = microblog::TakeProbeCommand(argc, argv);
  // `post-service reconcile ...`: the subcommand, then the same flags.
  const bool reconcile = argc > 1 && std::strcmp(argv[1], "reconcile") == 0;
  if (reconcile) {
    argv[1] = argv[0];
    ++argv;
    --argc;
  }
  std::variant<ServiceConfig, int> parsed =
      microblog::ParseServiceConfig(kPostService, PostServiceOptions(), argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const ServiceConfig& config = std::get<ServiceConfig>(parsed);
  if (probed.has_value()) return microblog::RunProbe(config.settings, *probed);
  absl::StatusOr<Settings> settings = ReadSettings(config);
  if (!settings.ok()) return microblog::ConfigurationError(kPostService, settings.status());
  // The server's metrics and post-service's calls to user-service, in one
  // registry (served by RunServer; a reconcile pass serves none).
  microblog::Registry metrics;
  microblog::RpcMetrics client_metrics(metrics, microblog::RpcMetrics::Side::kClient,
                                       {microblog::user::v1::UserService::service_full_name()});
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      post::NewUserServiceChannel(settings->user_service, reconcile ? nullptr : &client_metrics);
  if (!channel.ok()) return microblog::ConfigurationError(kPostService, channel.status());

  if (reconcile) return Reconcile(config, *settings, *channel);
  absl::StatusOr<std::unique_ptr<microblog::TokenVerifier>> tokens =
      microblog::OpenTokenVerifier(config.values, &metrics);
  if (!tokens.ok()) return microblog::ConfigurationError(kPostService, tokens.status());
  absl::StatusOr<std::shared_ptr<microblog::AuthorizationEnforcer>> authorization =
      microblog::OpenAuthorization(config.settings, &metrics);
  if (!authorization.ok()) {
    return microblog::ConfigurationError(kPostService, authorization.status());
  }
  return Serve(config, *settings, *channel, *authorization, **tokens, metrics);
}
