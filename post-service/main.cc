// post-service: serves microblog.post.v1.PostService from its own PostgreSQL
// database, checking authors with user-service over gRPC.
// Configuration: environment variables or flags (--help lists them).
#include <chrono>
#include <iostream>
#include <memory>
#include <vector>

#include "common/config.h"
#include "common/connection_pool.h"
#include "common/log.h"
#include "common/server.h"
#include "common/worker_pool.h"
#include "post-service/post_service.h"
#include "post-service/post_store.h"
#include "post-service/user_directory.h"

namespace {

using microblog::Config;
using microblog::ConfigOption;

std::vector<ConfigOption> PostServiceOptions() {
  std::vector<ConfigOption> options = microblog::CommonServerOptions("0.0.0.0:50052");
  options.push_back({"POST_DATABASE_URL", "",
                     "libpq URL of the posts database (required), e.g. "
                     "postgresql://post_service@db:5432/posts."});
  options.push_back({"USER_SERVICE_ADDR", "localhost:50051",
                     "gRPC target of user-service: host:port, or dns:///host:port to balance over every address."});
  options.push_back({"USER_SERVICE_TIMEOUT_MS", "2000",
                     "Upper bound of one author check against user-service, in milliseconds."});
  options.push_back({"USER_SERVICE_TLS_CA_FILE", "",
                     "PEM CA bundle that signed user-service's certificate; "
                     "setting any USER_SERVICE_TLS_* turns TLS on (empty CA: system roots)."});
  options.push_back({"USER_SERVICE_TLS_CERT_FILE", "",
                     "PEM client certificate chain for mutual TLS with user-service."});
  options.push_back({"USER_SERVICE_TLS_KEY_FILE", "",
                     "PEM private key of USER_SERVICE_TLS_CERT_FILE."});
  return options;
}

int Fail(const absl::Status& status) {
  std::cerr << "post-service: " << status.message() << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  microblog::BlockShutdownSignals();

  absl::StatusOr<Config> config =
      Config::Parse("post-service",
                    "Serves microblog.post.v1.PostService: publishes and lists posts.",
                    PostServiceOptions(), argc, argv);
  if (!config.ok()) return Fail(config.status());
  if (config->help_requested()) {
    std::cout << config->HelpText();
    return 0;
  }
  absl::StatusOr<microblog::ServerSettings> settings = microblog::ReadServerSettings(*config);
  if (!settings.ok()) return Fail(settings.status());
  const std::string& database_url = config->GetString("POST_DATABASE_URL");
  if (database_url.empty()) {
    return Fail(absl::InvalidArgumentError("POST_DATABASE_URL is required"));
  }
  absl::StatusOr<int64_t> user_timeout_ms = config->GetInt("USER_SERVICE_TIMEOUT_MS", 1, 600000);
  if (!user_timeout_ms.ok()) return Fail(user_timeout_ms.status());

  microblog::post::UserDirectoryOptions directory_options;
  directory_options.target = config->GetString("USER_SERVICE_ADDR");
  directory_options.timeout = std::chrono::milliseconds(*user_timeout_ms);
  directory_options.tls_ca_file = config->GetString("USER_SERVICE_TLS_CA_FILE");
  directory_options.tls_cert_file = config->GetString("USER_SERVICE_TLS_CERT_FILE");
  directory_options.tls_key_file = config->GetString("USER_SERVICE_TLS_KEY_FILE");
  absl::StatusOr<std::unique_ptr<microblog::post::GrpcUserDirectory>> users =
      microblog::post::GrpcUserDirectory::Create(directory_options);
  if (!users.ok()) return Fail(users.status());

  microblog::ConnectionPoolOptions pool_options;
  pool_options.url = database_url;
  pool_options.size = static_cast<std::size_t>(settings->db_pool_size);
  pool_options.prepare = &microblog::post::PostStore::PrepareStatements;
  pool_options.statement_timeout = settings->max_deadline;
  microblog::ConnectionPool pool(std::move(pool_options));
  microblog::post::PostStore store(pool);
  // As many database workers as connections: a worker never waits for one.
  microblog::WorkerPool db_workers("db-worker", static_cast<std::size_t>(settings->db_pool_size));
  microblog::post::PostServiceImpl service(store, **users, db_workers, settings->max_deadline);

  microblog::Log(microblog::LogLevel::kInfo, "post-service configured",
                 {{"database", microblog::RedactUrl(database_url)},
                  {"user_service", directory_options.target}});
  // Ready while our own database answers. user-service being down only
  // affects CreatePost, and reads must keep being routed here meanwhile.
  return microblog::RunServer(*settings, "post-service",
                              {{&service, microblog::post::v1::PostService::service_full_name()}},
                              [&pool](std::chrono::system_clock::time_point deadline) {
                                return pool.Ping(deadline);
                              });
}
