// user-service: serves microblog.user.v1.UserService on PostgreSQL.
// Configuration comes from the environment or flags: run with --help.
#include <cstddef>
#include <cstdint>
#include <variant>

#include "common/connection_pool.h"
#include "common/log.h"
#include "common/server.h"
#include "common/service_main.h"
#include "common/worker_pool.h"
#include "user-service/password_hasher.h"
#include "user-service/user_accounts.h"
#include "user-service/user_service.h"
#include "user-service/user_store.h"

namespace {

const microblog::ServiceDescription kUserService = {
    "user-service", "Serves microblog.user.v1.UserService: accounts and password checks.",
    "0.0.0.0:50051", "USER_DATABASE_URL",
    "libpq URL of the users database, as the user_service role"};

}  // namespace

int main(int argc, char** argv) {
  microblog::BlockShutdownSignals();

  std::variant<microblog::ServiceConfig, int> parsed = microblog::ParseServiceConfig(
      kUserService,
      {{"PASSWORD_HASH_THREADS", "2",
        "Threads hashing passwords (1-64); each hash takes 64 MiB while it runs."}},
      argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const microblog::ServiceConfig& config = std::get<microblog::ServiceConfig>(parsed);
  absl::StatusOr<int64_t> hash_threads = config.values.GetInt("PASSWORD_HASH_THREADS", 1, 64);
  if (!hash_threads.ok()) return microblog::ConfigurationError(kUserService, hash_threads.status());

  microblog::ConnectionPool pool(microblog::DatabasePoolOptions(
      config, &microblog::user::PostgresUserStore::PrepareStatements));
  microblog::user::PostgresUserStore store(pool);
  microblog::user::PasswordHasher hasher(static_cast<std::size_t>(*hash_threads));
  // As many database workers as connections: a worker never waits for one.
  microblog::WorkerPool db_workers("db-worker",
                                   static_cast<std::size_t>(config.settings.db_pool_size));
  microblog::user::UserAccounts accounts(store, hasher, db_workers);
  // Hashing calls also query the database: twice the hashing threads, so
  // that one call's query overlaps another's hash.
  microblog::WorkerPool hashing_workers("hash-worker", 2 * static_cast<std::size_t>(*hash_threads));
  microblog::user::UserServiceImpl service(accounts, db_workers, hashing_workers,
                                           config.settings.max_deadline);

  microblog::Log(microblog::LogLevel::kInfo, "starting",
                 {{"database", microblog::RedactUrl(config.database_url)},
                  {"password_hash_threads", static_cast<int64_t>(*hash_threads)}});
  return microblog::RunServer(config.settings, kUserService.name,
                              {{&service, microblog::user::v1::UserService::service_full_name()}},
                              [&pool](auto deadline) { return pool.Ping(deadline); });
}
