#include "common/service_main.h"

#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace microblog {

std::variant<ServiceConfig, int> ParseServiceConfig(const ServiceDescription& service,
                                                    std::vector<ConfigOption> extra_options,
                                                    int argc, const char* const* argv) {
  std::vector<ConfigOption> options = CommonServerOptions(service.default_listen_address,
                                                         service.default_metrics_address);
  options.push_back({service.database_url_option, "", service.database_url_help});
  for (ConfigOption& option : extra_options) options.push_back(std::move(option));

  absl::StatusOr<Config> config =
      Config::Parse(service.name, service.description, options, argc, argv);
  if (!config.ok()) return ConfigurationError(service, config.status());
  if (config->help_requested()) {
    std::cout << config->HelpText();
    return 0;
  }
  absl::StatusOr<ServerSettings> settings = ReadServerSettings(*config);
  if (!settings.ok()) return ConfigurationError(service, settings.status());
  std::string database_url = config->GetString(service.database_url_option);
  if (database_url.empty()) {
    return ConfigurationError(
        service, absl::InvalidArgumentError(absl::StrCat(
                     service.database_url_option, " is required: ", service.database_url_help,
                     " (see --help)")));
  }
  return ServiceConfig{*std::move(config), *std::move(settings), std::move(database_url)};
}

int ConfigurationError(const ServiceDescription& service, const absl::Status& status) {
  std::cerr << service.name << ": " << status.message() << "\n";
  return 2;
}

ConnectionPoolOptions DatabasePoolOptions(const ServiceConfig& service,
                                          std::function<void(pqxx::connection&)> prepare) {
  ConnectionPoolOptions options;
  options.url = service.database_url;
  options.size = static_cast<std::size_t>(service.settings.db_pool_size);
  options.prepare = std::move(prepare);
  options.prepared_statements = service.settings.db_prepared_statements;
  options.statement_timeout = service.settings.max_deadline;
  return options;
}

}  // namespace microblog
