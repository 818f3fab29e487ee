#include "common/service/service_main.h"

#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/db/database_url.h"

namespace microblog {

std::variant<ServiceConfig, int> ParseServiceConfig(const ServiceDescription& service,
                                                    std::vector<ConfigOption> extra_options,
                                                    int argc, const char* const* argv) {
  std::vector<ConfigOption> options =
      CommonServerOptions(service.default_listen_address, service.default_metrics_address);
  options.push_back({service.database_url_option, "", service.database_url_help});
  options.push_back({service.read_url_option, "", service.read_url_help});
  options.push_back({"DB_REPLICA_MAX_LAG_MS", "1000",
                     "A read replica lagging further behind the primary than this (1-300000) is "
                     "skipped: its reads go to the primary."});
  options.push_back({"DB_REPLICA_POLL_INTERVAL_MS", "500",
                     "How often each read replica's replay position and lag are checked "
                     "(50-60000)."});
  for (ConfigOption& option : extra_options) options.push_back(std::move(option));

  absl::StatusOr<Config> config =
      Config::Parse(service.name, service.description, options, argc, argv);
  if (!config.ok()) return ConfigurationError(service, config.status());
  if (config->help_requested()) {
    std::cout << config->HelpText();
    return 0;
  }
  // The database's settings first: DB_POOL_SIZE and DB_PREPARED_STATEMENTS
  // were checked before the server's other settings when they were part of
  // them, and a configuration with several errors still reports the same.
  absl::StatusOr<DatabaseSettings> database = ReadDatabaseSettings(*config);
  if (!database.ok()) return ConfigurationError(service, database.status());
  absl::StatusOr<ServerSettings> settings = ReadServerSettings(*config);
  if (!settings.ok()) return ConfigurationError(service, settings.status());
  std::string database_url = config->GetString(service.database_url_option);
  if (database_url.empty()) {
    return ConfigurationError(service, absl::InvalidArgumentError(absl::StrCat(
                                           service.database_url_option, " is required: ",
                                           service.database_url_help, " (see --help)")));
  }
  absl::StatusOr<std::vector<std::string>> read_urls =
      ParseDatabaseUrlList(config->GetString(service.read_url_option), service.read_url_option);
  if (!read_urls.ok()) return ConfigurationError(service, read_urls.status());
  absl::StatusOr<int64_t> max_lag_ms = config->GetInt("DB_REPLICA_MAX_LAG_MS", 1, 300000);
  if (!max_lag_ms.ok()) return ConfigurationError(service, max_lag_ms.status());
  absl::StatusOr<int64_t> poll_ms = config->GetInt("DB_REPLICA_POLL_INTERVAL_MS", 50, 60000);
  if (!poll_ms.ok()) return ConfigurationError(service, poll_ms.status());
  ServiceConfig parsed{
      *std::move(config), *std::move(settings), *database, std::move(database_url), {}, {}, {}};
  parsed.read_urls = *std::move(read_urls);
  parsed.replica_max_lag = std::chrono::milliseconds(*max_lag_ms);
  parsed.replica_poll_interval = std::chrono::milliseconds(*poll_ms);
  return parsed;
}

int ConfigurationError(const ServiceDescription& service, const absl::Status& status) {
  std::cerr << service.name << ": " << status.message() << "\n";
  return 2;
}

ConnectionPoolOptions DatabasePoolOptions(const ServiceConfig& service,
                                          std::function<void(pqxx::connection&)> prepare) {
  ConnectionPoolOptions options;
  options.url = service.database_url;
  options.size = static_cast<std::size_t>(service.database.pool_size);
  options.prepare = std::move(prepare);
  options.prepared_statements = service.database.prepared_statements;
  options.statement_timeout = service.settings.max_deadline;
  return options;
}

ReadRouterOptions DatabaseReadOptions(const ServiceConfig& service,
                                      std::function<void(pqxx::connection&)> prepare,
                                      Registry* metrics) {
  ReadRouterOptions options;
  options.replica_urls = service.read_urls;
  options.max_lag = service.replica_max_lag;
  options.poll_interval = service.replica_poll_interval;
  options.pool = DatabasePoolOptions(service, std::move(prepare));
  options.pool.metrics = metrics;
  return options;
}

}  // namespace microblog
