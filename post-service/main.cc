// post-service: serves microblog.post.v1.PostService from its own PostgreSQL
// database, checking authors with user-service over gRPC.
// Configuration: environment variables or flags (--help lists them).
#include <chrono>
#include <memory>
#include <variant>
#include <vector>

#include "common/connection_pool.h"
#include "common/log.h"
#include "common/server.h"
#include "common/service_main.h"
#include "common/worker_pool.h"
#include "post-service/author_checker.h"
#include "post-service/post_service.h"
#include "post-service/post_store.h"
#include "post-service/posts.h"

namespace {

using microblog::ConfigOption;

const microblog::ServiceDescription kPostService = {
    "post-service", "Serves microblog.post.v1.PostService: publishes and lists posts.",
    "0.0.0.0:50052", "POST_DATABASE_URL",
    "libpq URL of the posts database, e.g. postgresql://post_service@db:5432/posts"};

std::vector<ConfigOption> UserServiceOptions() {
  return {
      {"USER_SERVICE_ADDR", "localhost:50051",
       "gRPC target of user-service: host:port, or dns:///host:port to balance over every "
       "address."},
      {"USER_SERVICE_TIMEOUT_MS", "2000",
       "Upper bound of one author check against user-service, in milliseconds."},
      {"USER_SERVICE_TLS_CA_FILE", "",
       "PEM CA bundle that signed user-service's certificate; "
       "setting any USER_SERVICE_TLS_* turns TLS on (empty CA: system roots)."},
      {"USER_SERVICE_TLS_CERT_FILE", "",
       "PEM client certificate chain for mutual TLS with user-service."},
      {"USER_SERVICE_TLS_KEY_FILE", "", "PEM private key of USER_SERVICE_TLS_CERT_FILE."},
  };
}

}  // namespace

int main(int argc, char** argv) {
  microblog::BlockShutdownSignals();

  std::variant<microblog::ServiceConfig, int> parsed =
      microblog::ParseServiceConfig(kPostService, UserServiceOptions(), argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const microblog::ServiceConfig& config = std::get<microblog::ServiceConfig>(parsed);
  absl::StatusOr<int64_t> user_timeout_ms =
      config.values.GetInt("USER_SERVICE_TIMEOUT_MS", 1, 600000);
  if (!user_timeout_ms.ok()) {
    return microblog::ConfigurationError(kPostService, user_timeout_ms.status());
  }

  microblog::post::UserServiceChannelOptions user_service;
  user_service.target = config.values.GetString("USER_SERVICE_ADDR");
  user_service.timeout = std::chrono::milliseconds(*user_timeout_ms);
  user_service.tls_ca_file = config.values.GetString("USER_SERVICE_TLS_CA_FILE");
  user_service.tls_cert_file = config.values.GetString("USER_SERVICE_TLS_CERT_FILE");
  user_service.tls_key_file = config.values.GetString("USER_SERVICE_TLS_KEY_FILE");
  absl::StatusOr<std::unique_ptr<microblog::post::GrpcAuthorChecker>> authors =
      microblog::post::GrpcAuthorChecker::Create(user_service);
  if (!authors.ok()) return microblog::ConfigurationError(kPostService, authors.status());

  microblog::ConnectionPool pool(microblog::DatabasePoolOptions(
      config, &microblog::post::PostgresPostStore::PrepareStatements));
  microblog::post::PostgresPostStore store(pool);
  // As many database workers as connections: a worker never waits for one.
  microblog::WorkerPool db_workers("db-worker",
                                   static_cast<std::size_t>(config.settings.db_pool_size));
  microblog::post::Posts posts(store, **authors, db_workers);
  microblog::post::PostServiceImpl service(posts, db_workers, config.settings.max_deadline);

  microblog::Log(microblog::LogLevel::kInfo, "post-service configured",
                 {{"database", microblog::RedactUrl(config.database_url)},
                  {"user_service", user_service.target}});
  // Ready while our own database answers. user-service being down only
  // affects CreatePost, and reads must keep being routed here meanwhile.
  return microblog::RunServer(config.settings, kPostService.name,
                              {{&service, microblog::post::v1::PostService::service_full_name()}},
                              [&pool](std::chrono::system_clock::time_point deadline) {
                                return pool.Ping(deadline);
                              });
}
