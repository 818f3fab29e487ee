// The start-up both services' main() share: configuration with --help, the
// common server settings, the required database URL, the optional read
// replica URLs with their settings, and the connection pool and read router
// built from them.
//
//   int main(int argc, char** argv) {
//     BlockShutdownSignals();
//     std::variant<ServiceConfig, int> parsed = ParseServiceConfig(
//         {"user-service", "Serves ...", "0.0.0.0:50051", "USER_DATABASE_URL",
//          "libpq URL of the users database"}, extra_options, argc, argv);
//     if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
//     ServiceConfig& service = std::get<ServiceConfig>(parsed);
//     ConnectionPool pool(DatabasePoolOptions(service, &MyStore::Prepare));
//     ...
//   }
#ifndef MICROBLOG_COMMON_SERVICE_SERVICE_MAIN_H_
#define MICROBLOG_COMMON_SERVICE_SERVICE_MAIN_H_

#include <chrono>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include <pqxx/connection>

#include "absl/status/status.h"
#include "common/base/metrics.h"
#include "common/db/connection_pool.h"
#include "common/db/read_router.h"
#include "common/service/config.h"

namespace microblog {

// What a service declares about its start-up.
struct ServiceDescription {
  std::string name;                     // "user-service": program name, message prefix
  std::string description;              // first line of --help
  std::string default_listen_address;   // "0.0.0.0:50051"
  std::string default_metrics_address;  // "0.0.0.0:9464"
  std::string database_url_option;      // "USER_DATABASE_URL" (required)
  std::string database_url_help;        // its line in --help
  std::string read_url_option;          // "USER_DATABASE_READ_URL" (optional)
  std::string read_url_help;            // its line in --help
};

// A service's configuration, read and checked.
struct ServiceConfig {
  Config values;  // every option's value: services read their own options here
  ServerSettings settings;
  DatabaseSettings database;  // DB_POOL_SIZE, DB_PREPARED_STATEMENTS
  std::string database_url;
  // Read replicas (read_url_option, ParseDatabaseUrlList); may be empty.
  std::vector<std::string> read_urls;
  std::chrono::milliseconds replica_max_lag{1000};       // DB_REPLICA_MAX_LAG_MS
  std::chrono::milliseconds replica_poll_interval{500};  // DB_REPLICA_POLL_INTERVAL_MS
};

// Reads the common options, the database URL and `extra_options` from the
// environment and argv. Returns the configuration, or the exit code main()
// should return at once: 0 after printing --help to stdout, 2 after
// printing "<name>: <what is wrong>" to stderr.
std::variant<ServiceConfig, int> ParseServiceConfig(const ServiceDescription& service,
                                                    std::vector<ConfigOption> extra_options,
                                                    int argc, const char* const* argv);

// Prints "<name>: <status message>" to stderr and returns 2: for main()'s
// own configuration errors.
int ConfigurationError(const ServiceDescription& service, const absl::Status& status);

// The connection pool of a service: DB_POOL_SIZE connections to its
// database, the statement timeout at MAX_DEADLINE_MS, `prepare` run on each
// new connection, prepared statements on or off (DB_PREPARED_STATEMENTS).
ConnectionPoolOptions DatabasePoolOptions(const ServiceConfig& service,
                                          std::function<void(pqxx::connection&)> prepare);

// The read router's options: the replicas of ServiceConfig::read_urls, each
// a pool like the primary's (DB_POOL_SIZE connections, `prepare`), metrics
// in `metrics` (may be null).
ReadRouterOptions DatabaseReadOptions(const ServiceConfig& service,
                                      std::function<void(pqxx::connection&)> prepare,
                                      Registry* metrics);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_SERVICE_SERVICE_MAIN_H_
