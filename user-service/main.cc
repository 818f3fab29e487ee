// user-service: serves microblog.user.v1.UserService on PostgreSQL.
// Configuration comes from the environment or flags: run with --help.
#include <iostream>

#include "common/config.h"
#include "common/connection_pool.h"
#include "common/log.h"
#include "common/server.h"
#include "common/worker_pool.h"
#include "user-service/password_hasher.h"
#include "user-service/user_accounts.h"
#include "user-service/user_service.h"
#include "user-service/user_store.h"

int main(int argc, char** argv) {
  microblog::BlockShutdownSignals();

  std::vector<microblog::ConfigOption> options = microblog::CommonServerOptions("0.0.0.0:50051");
  options.push_back({"USER_DATABASE_URL", "",
                     "Required. libpq URL of the users database, as the user_service role."});
  options.push_back({"PASSWORD_HASH_THREADS", "2",
                     "Threads hashing passwords (1-64); each hash takes 64 MiB while it runs."});
  auto config = microblog::Config::Parse(
      "user-service", "Serves microblog.user.v1.UserService: accounts and password checks.",
      options, argc, argv);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  if (config->help_requested()) {
    std::cout << config->HelpText();
    return 0;
  }
  auto settings = microblog::ReadServerSettings(*config);
  auto hash_threads = config->GetInt("PASSWORD_HASH_THREADS", 1, 64);
  const std::string& database_url = config->GetString("USER_DATABASE_URL");
  if (!settings.ok() || !hash_threads.ok() || database_url.empty()) {
    std::cerr << (!settings.ok()       ? settings.status().message()
                  : !hash_threads.ok() ? hash_threads.status().message()
                                       : "USER_DATABASE_URL is not set: give the libpq URL of "
                                         "the users database (see --help)")
              << "\n";
    return 2;
  }

  microblog::ConnectionPoolOptions pool_options;
  pool_options.url = database_url;
  pool_options.size = static_cast<std::size_t>(settings->db_pool_size);
  pool_options.prepare = microblog::user::PostgresUserStore::Prepare;
  pool_options.statement_timeout = settings->max_deadline;
  microblog::ConnectionPool pool(std::move(pool_options));
  microblog::user::PostgresUserStore store(pool);
  microblog::user::PasswordHasher hasher(static_cast<std::size_t>(*hash_threads));
  microblog::user::UserAccounts accounts(store, hasher);
  // As many database workers as connections: a worker never waits for one.
  microblog::WorkerPool db_workers("db-worker", static_cast<std::size_t>(settings->db_pool_size));
  // Hashing calls also query the database: twice the hashing threads, so
  // that one call's query overlaps another's hash.
  microblog::WorkerPool hashing_workers("hash-worker", 2 * static_cast<std::size_t>(*hash_threads));
  microblog::user::UserServiceImpl service(accounts, db_workers, hashing_workers,
                                           settings->max_deadline);

  microblog::Log(microblog::LogLevel::kInfo, "starting",
                 {{"database", microblog::RedactUrl(database_url)},
                  {"password_hash_threads", static_cast<int64_t>(*hash_threads)}});
  return microblog::RunServer(*settings, "user-service",
                              {{&service, microblog::user::v1::UserService::service_full_name()}},
                              [&pool](auto deadline) { return pool.Ping(deadline); });
}
