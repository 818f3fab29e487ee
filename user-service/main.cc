// user-service: serves microblog.user.v1.UserService on PostgreSQL.
// Configuration comes from the environment or flags: run with --help.
//
//   user-service [FLAGS]                          serve (until SIGTERM)
//   user-service probe [--service=NAME]           the exec probe (probe.h)
//   user-service jwks KEY_FILE                    the signing key's JWKS
//   user-service backfill-identity-keys [--batch-size=N] [--check] [FLAGS]
//                                                 fill the stored forms of
//                                                 older accounts, then exit
//                                                 (identity_backfill.h)
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/db/connection_pool.h"
#include "common/db/pg_listener.h"
#include "common/db/read_router.h"
#include "common/exec/fair_work_queue.h"
#include "common/exec/periodic_task.h"
#include "common/exec/wait_list.h"
#include "common/exec/worker_pool.h"
#include "common/service/access_tokens.h"
#include "common/service/probe.h"
#include "common/service/server.h"
#include "common/service/service_main.h"
#include "common/service/transport_security.h"
#include "user-service/feed/user_event_store.h"
#include "user-service/feed/user_events.h"
#include "user-service/identity_backfill.h"
#include "user-service/password_hasher.h"
#include "user-service/postgres_user_store.h"
#include "user-service/user_accounts.h"
#include "user-service/user_service.h"

namespace {

const microblog::ServiceDescription kUserService = {
    "user-service",
    "Serves microblog.user.v1.UserService: accounts and password checks.",
    "0.0.0.0:50051",
    "0.0.0.0:9464",
    "USER_DATABASE_URL",
    "libpq URL of the users database, as the user_service role",
    "USER_DATABASE_READ_URL",
    "Read replicas of the users database (streaming standbys), as the user_service role: "
    "postgresql:// URIs separated by whitespace, or one keyword/value string; unset: every "
    "read on the primary."};

// Calls waiting for a hashing thread, per caller and in all (admission
// usually refuses sooner: at the deployed 2 threads and 5 s deadline about
// 60 calls can finish in time). Each waiting call holds its request (login
// and password, at most ~1.3 KiB) and gRPC's call state (a few KiB), so the
// whole queue stays within a few MiB.
constexpr std::size_t kMaxHashingCallsQueuedPerCaller = 64;
constexpr std::size_t kMaxHashingCallsQueued = 512;

std::vector<microblog::ConfigOption> UserServiceOptions() {
  std::vector<microblog::ConfigOption> options = {
      {"PASSWORD_HASH_THREADS", "2",
       "Threads hashing passwords (1-64); each hash takes 64 MiB while it runs."},
      {"PASSWORD_HASH_NICE", "0",
       "Nice value (0-19) of the hashing threads: above 0, reads sharing the cores keep "
       "their CPU share while logins flood."},
      {"USER_EVENTS_RETENTION_SECONDS", "604800",
       "How long the outbox keeps events for ListUserEvents readers (default 7 days); a "
       "reader further behind is told so (OUT_OF_RANGE) and must reconcile."},
      {"USER_EVENTS_PRUNE_INTERVAL_MS", "60000",
       "How often events past USER_EVENTS_RETENTION_SECONDS are deleted."},
      {"USER_DATABASE_LISTEN_URL", "",
       "libpq URL of the session that LISTENs for new user events (wakes ListUserEvents long "
       "polls): a direct connection to PostgreSQL, never a transaction-mode pooler. Unset: "
       "USER_DATABASE_URL with DB_PREPARED_STATEMENTS=on; with off, no LISTEN, and waiting "
       "long polls re-read every USER_EVENTS_POLL_MS."},
      {"USER_EVENTS_POLL_MS", "1000",
       "Without a LISTEN session (DB_PREPARED_STATEMENTS=off and no USER_DATABASE_LISTEN_URL): "
       "how often waiting ListUserEvents long polls re-read the outbox (10-60000)."},
  };
  for (auto* more : {microblog::TokenVerifierOptions, microblog::TokenSignerOptions}) {
    for (microblog::ConfigOption& option : more()) options.push_back(std::move(option));
  }
  return options;
}

// The settings of user-service besides ServiceConfig's own.
struct Settings {
  std::size_t hash_threads = 0;
  int hash_nice = 0;
  std::chrono::seconds events_retention{0};
  std::chrono::milliseconds events_prune_interval{0};
  std::chrono::milliseconds events_poll_interval{0};
  // The LISTEN session's URL; empty: no LISTEN, long polls re-read every
  // events_poll_interval.
  std::string listen_url;
};

absl::StatusOr<Settings> ReadSettings(const microblog::ServiceConfig& config) {
  Settings settings;
  absl::StatusOr<int64_t> hash_threads = config.values.GetInt("PASSWORD_HASH_THREADS", 1, 64);
  if (!hash_threads.ok()) return hash_threads.status();
  absl::StatusOr<int64_t> hash_nice = config.values.GetInt("PASSWORD_HASH_NICE", 0, 19);
  if (!hash_nice.ok()) return hash_nice.status();
  absl::StatusOr<int64_t> retention_s =
      config.values.GetInt("USER_EVENTS_RETENTION_SECONDS", 1, int64_t{10} * 365 * 24 * 3600);
  if (!retention_s.ok()) return retention_s.status();
  absl::StatusOr<int64_t> prune_interval_ms =
      config.values.GetInt("USER_EVENTS_PRUNE_INTERVAL_MS", 100, int64_t{24} * 3600 * 1000);
  if (!prune_interval_ms.ok()) return prune_interval_ms.status();
  absl::StatusOr<int64_t> poll_ms = config.values.GetInt("USER_EVENTS_POLL_MS", 10, 60000);
  if (!poll_ms.ok()) return poll_ms.status();

  settings.hash_threads = static_cast<std::size_t>(*hash_threads);
  settings.hash_nice = static_cast<int>(*hash_nice);
  settings.events_retention = std::chrono::seconds(*retention_s);
  settings.events_prune_interval = std::chrono::milliseconds(*prune_interval_ms);
  settings.events_poll_interval = std::chrono::milliseconds(*poll_ms);
  // LISTEN needs a session of its own: through a transaction-mode pooler
  // (DB_PREPARED_STATEMENTS=off) only an explicit direct URL gives one.
  settings.listen_url = config.values.GetString("USER_DATABASE_LISTEN_URL");
  if (settings.listen_url.empty() && config.database.prepared_statements) {
    settings.listen_url = config.database_url;
  }
  return settings;
}

// The queue of the calls that hash a password (CreateUser, VerifyPassword,
// UpdateUser with a new password), in front of `hasher`.
microblog::FairWorkQueueOptions HashingQueueOptions(const Settings& settings,
                                                    microblog::user::PasswordHasher& hasher,
                                                    microblog::Registry& metrics) {
  // As many workers as hashing threads: a call that gets a worker hashes at
  // once, so a caller served next by the fair queue waits for one hash to
  // end, not for hashes queued inside the hasher too (twice the threads, as
  // before, made a correct login wait behind ~3 flood hashes: p99 2.1 s vs
  // 1.5 s, bench/README.md "Password checks under a flood"). Fair across
  // callers, and
  // refusing at once what could not finish in time (issue #21): see
  // common/exec/fair_work_queue.h and ARCHITECTURE.md, "Passwords".
  microblog::FairWorkQueueOptions hashing_options;
  hashing_options.name = "hash-worker";
  hashing_options.threads = settings.hash_threads;
  hashing_options.max_queued_per_key = kMaxHashingCallsQueuedPerCaller;
  hashing_options.max_queued = kMaxHashingCallsQueued;
  // What calls contend for is the hashing threads: each call costs one
  // hash, as long as hashes take lately.
  hashing_options.job_cost = [&hasher] { return hasher.HashTimeEstimate(); };
  hashing_options.capacity = settings.hash_threads;
  hashing_options.queued =
      &metrics.AddGauge("microblog_password_hash_queue_depth", "", {}).WithLabels({});
  hashing_options.refused =
      &metrics.AddCounter("microblog_password_checks_refused_total", "", {"reason"});
  return hashing_options;
}

int Serve(const microblog::ServiceConfig& config, const Settings& settings) {
  // Everything below reports its metrics here; RunServer serves them.
  microblog::Registry metrics;
  absl::StatusOr<std::shared_ptr<microblog::AuthorizationEnforcer>> authorization =
      microblog::OpenAuthorization(config.settings, &metrics);
  if (!authorization.ok()) {
    return microblog::ConfigurationError(kUserService, authorization.status());
  }
  absl::StatusOr<std::unique_ptr<microblog::TokenVerifier>> tokens =
      microblog::OpenTokenVerifier(config.values, &metrics);
  if (!tokens.ok()) return microblog::ConfigurationError(kUserService, tokens.status());
  absl::StatusOr<std::unique_ptr<microblog::TokenSigner>> signer =
      microblog::OpenTokenSigner(config.values, **tokens);
  if (!signer.ok()) return microblog::ConfigurationError(kUserService, signer.status());
  microblog::ConnectionPoolOptions pool_options =
      microblog::DatabasePoolOptions(config, [](pqxx::connection& connection) {
        microblog::user::PostgresUserStore::PrepareStatements(connection);
        microblog::user::PostgresUserEventStore::PrepareStatements(connection);
      });
  pool_options.metrics = &metrics;
  microblog::ConnectionPool pool(std::move(pool_options));
  // Reads that tolerate replication lag go to USER_DATABASE_READ_URL's
  // replicas (user_accounts.h says which); the feed stays on the primary.
  microblog::ReadRouter router(
      pool, microblog::DatabaseReadOptions(
                config, &microblog::user::PostgresUserStore::PrepareStatements, &metrics));
  microblog::user::PostgresUserStore store(router);
  microblog::user::PostgresUserEventStore event_store(pool);
  // Long polls of ListUserEvents wait here; a commit of an event on any
  // replica wakes them (NOTIFY from the outbox's trigger).
  // Without LISTEN, a periodic wake-up makes them re-read instead.
  microblog::WaitList new_events;
  std::unique_ptr<microblog::PgListener> event_listener;
  std::unique_ptr<microblog::PeriodicTask> event_polling;
  if (!settings.listen_url.empty()) {
    event_listener = std::make_unique<microblog::PgListener>(
        settings.listen_url, microblog::user::kUserEventsChannel,
        [&new_events] { new_events.NotifyAll(); });
  } else {
    event_polling = std::make_unique<microblog::PeriodicTask>(
        "poll-events", settings.events_poll_interval, [&new_events] { new_events.NotifyAll(); });
  }
  microblog::user::PasswordHasher hasher(settings.hash_threads, &metrics, settings.hash_nice);
  // As many database workers as connections: a worker never waits for one.
  microblog::WorkerPool db_workers("db-worker",
                                   static_cast<std::size_t>(config.database.pool_size));
  microblog::user::UserAccounts accounts(store, hasher, db_workers, **signer, &metrics);
  microblog::FairWorkQueue hashing_queue(HashingQueueOptions(settings, hasher, metrics));
  microblog::user::UserEventFeed feed(event_store, db_workers, new_events,
                                      settings.events_retention);
  microblog::PeriodicTask pruning("prune-events", settings.events_prune_interval,
                                  [&feed] { feed.PruneExpired(); });
  microblog::user::UserServiceImpl service(accounts, feed, db_workers, hashing_queue,
                                           config.settings.max_deadline,
                                           {tokens->get(), authorization->get()});

  microblog::Log(microblog::LogLevel::kInfo, "starting",
                 {{"database", microblog::RedactUrl(config.database_url)},
                  {"prepared_statements", config.database.prepared_statements},
                  {"user_events_wakeup",
                   settings.listen_url.empty()
                       ? absl::StrCat("poll every ", settings.events_poll_interval.count(), " ms")
                       : absl::StrCat("LISTEN on ", microblog::RedactUrl(settings.listen_url))},
                  {"password_hash_threads", static_cast<int64_t>(settings.hash_threads)},
                  {"token_kid", (*signer)->kid()}});
  return microblog::RunServer(
      config.settings, kUserService.name,
      {{&service, microblog::user::v1::UserService::service_full_name()}},
      [&pool](auto deadline) { return pool.Ping(deadline); },
      // Long polls answer now instead of holding the drain.
      [&new_events] { new_events.Close(); }, &metrics, *authorization);
}

// `user-service jwks KEY_FILE`: prints the public key set (JWKS) of the
// signing key KEY_FILE, what TOKEN_JWKS_FILE must contain (with the other
// keys still in use, during a rotation).
int PrintJwks(const char* key_file) {
  absl::StatusOr<std::string> pem = microblog::ReadSettingFile(key_file, "KEY_FILE");
  absl::StatusOr<std::unique_ptr<microblog::TokenSigner>> signer =
      pem.ok() ? microblog::TokenSigner::FromPem(*pem, {}) : pem.status();
  if (!signer.ok()) return microblog::ConfigurationError(kUserService, signer.status());
  std::cout << (*signer)->public_jwks() << "\n";
  return 0;
}

// `user-service backfill-identity-keys ...` (identity_backfill.h), the
// flags TakeBackfillCommand took in `options`: the users database's URL
// read as the service reads it (USER_DATABASE_URL, --user-database-url),
// nothing else of its configuration (no server, no TLS files needed).
int BackfillIdentityKeys(const absl::StatusOr<microblog::user::IdentityBackfillOptions>& options,
                         int argc, char** argv) {
  const std::string program =
      absl::StrCat(kUserService.name, " ", microblog::user::kBackfillCommand);
  if (!options.ok()) {
    std::cerr << program << ": " << options.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<microblog::Config> config = microblog::Config::Parse(
      program,
      "Fills users.username_canonical, username_skeleton and email_canonical of the accounts "
      "written before those columns, in batches of --batch-size=N rows (default 500), and "
      "prints the rows it cannot fill (docs/identities.md, \"Accounts that collide\"); exits 0 "
      "when it "
      "ran. --check writes nothing: lists the rows still without them, exits 1 if there are "
      "any, 0 if none. Exit 2: bad flags or a database error.",
      {{kUserService.database_url_option, "", kUserService.database_url_help}}, argc, argv);
  if (!config.ok()) {
    std::cerr << program << ": " << config.status().message() << "\n";
    return 2;
  }
  if (config->help_requested()) {
    std::cout << config->HelpText();
    return 0;
  }
  const std::string& url = config->GetString(kUserService.database_url_option);
  if (url.empty()) {
    std::cerr << program << ": " << kUserService.database_url_option
              << " is required: " << kUserService.database_url_help << " (see --help)\n";
    return 2;
  }
  return microblog::user::RunIdentityBackfill(url, *options, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "jwks") return PrintJwks(argv[2]);
  if (const auto backfill = microblog::user::TakeBackfillCommand(argc, argv)) {
    return BackfillIdentityKeys(*backfill, argc, argv);
  }
  const std::optional<std::string> probed = microblog::TakeProbeCommand(argc, argv);
  microblog::BlockShutdownSignals();

  std::variant<microblog::ServiceConfig, int> parsed =
      microblog::ParseServiceConfig(kUserService, UserServiceOptions(), argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const microblog::ServiceConfig& config = std::get<microblog::ServiceConfig>(parsed);
  if (probed.has_value()) return microblog::RunProbe(config.settings, *probed);
  absl::StatusOr<Settings> settings = ReadSettings(config);
  if (!settings.ok()) return microblog::ConfigurationError(kUserService, settings.status());
  return Serve(config, *settings);
}
