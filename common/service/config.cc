#include "common/service/config.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/base/log.h"

namespace microblog {
namespace {

std::string FlagName(const std::string& env) {
  return absl::StrCat("--", absl::AsciiStrToLower(absl::StrReplaceAll(env, {{"_", "-"}})));
}

}  // namespace

absl::StatusOr<Config> Config::Parse(const std::string& program, const std::string& description,
                                     const std::vector<ConfigOption>& options, int argc,
                                     const char* const* argv) {
  Config config;
  config.program_ = program;
  config.description_ = description;
  config.options_ = options;
  for (const ConfigOption& option : options) {
    const char* from_env = std::getenv(option.env.c_str());
    config.values_[option.env] = from_env != nullptr ? from_env : option.default_value;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      config.help_requested_ = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat(program, ": unexpected argument '", arg, "' (see --help)"));
    }
    std::string name = arg;
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const ConfigOption* match = nullptr;
    for (const ConfigOption& option : options) {
      if (FlagName(option.env) == name) match = &option;
    }
    if (match == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(program, ": unknown flag '", name, "' (see --help)"));
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(
            absl::StrCat(program, ": flag '", name, "' needs a value (", name, "=VALUE)"));
      }
      value = argv[++i];
    }
    config.values_[match->env] = value;
  }
  return config;
}

std::string Config::HelpText() const {
  std::string text = absl::StrCat("Usage: ", program_, " [--flag=VALUE ...]\n\n", description_,
                                  "\n\nEach setting comes from its environment variable; the "
                                  "flag of the same name overrides it.\n\n");
  for (const ConfigOption& option : options_) {
    absl::StrAppend(&text, "  ", FlagName(option.env), " / ", option.env, "\n      ", option.help,
                    option.default_value.empty()
                        ? std::string(" (default: unset)")
                        : absl::StrCat(" (default: ", option.default_value, ")"),
                    "\n");
  }
  absl::StrAppend(&text, "  --help\n      Print this text and exit.\n");
  return text;
}

const std::string& Config::GetString(const std::string& env) const {
  auto it = values_.find(env);
  if (it == values_.end()) {
    std::cerr << "BUG: option " << env << " was not declared\n";
    std::abort();
  }
  return it->second;
}

absl::StatusOr<int64_t> Config::GetInt(const std::string& env, int64_t min, int64_t max) const {
  const std::string& text = GetString(env);
  int64_t value;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(env, "='", text, "' must be an integer from ", min, " to ", max));
  }
  return value;
}

std::vector<ConfigOption> CommonServerOptions(const std::string& default_listen_address,
                                              const std::string& default_metrics_address) {
  return {
      {"LISTEN_ADDRESS", default_listen_address, "host:port the gRPC server listens on."},
      {"METRICS_ADDRESS", default_metrics_address,
       "host:port serving Prometheus metrics over HTTP at /metrics; empty: no metrics."},
      {"DB_POOL_SIZE", "8", "Number of database connections (1-256)."},
      {"DB_PREPARED_STATEMENTS", "on",
       "on: named prepared statements and a per-connection statement_timeout; off: unnamed "
       "statements and nothing bound to a session, for a transaction-mode pooler (PgBouncer)."},
      {"MAX_DEADLINE_MS", "10000",
       "Cap on any request's deadline, in milliseconds; also the database statement timeout."},
      {"SHUTDOWN_DRAIN_DELAY_MS", "0",
       "On SIGTERM/SIGINT, how long to keep serving with health NOT_SERVING before the server "
       "stops accepting calls, so that load balancers and health-checking clients move away "
       "(ms; 0: stop at once; a second signal ends the delay)."},
      {"SHUTDOWN_GRACE_MS", "10000",
       "After the drain delay, how long in-flight calls may finish before they are cancelled "
       "(ms)."},
      {"MAX_CONNECTION_AGE_MS", "0",
       "Each client connection is asked to go away (HTTP/2 GOAWAY) after about this long "
       "(+/-10 %), so that clients re-resolve and spread over new replicas (ms; 0: never; else "
       "at least 1000)."},
      {"MAX_CONNECTION_AGE_GRACE_MS", "10000",
       "With MAX_CONNECTION_AGE_MS: how long calls in progress on an aged connection may "
       "finish before it is closed (ms; at least MAX_DEADLINE_MS)."},
      {"HEALTH_CHECK_INTERVAL_MS", "1000",
       "How often the database is checked for the health service, in milliseconds."},
      {"LOG_LEVEL", "info", "debug, info, warn or error."},
      {"ACCESS_LOG_SLOW_MS", "100",
       "The per-RPC log line is written at info for every call that is not OK (within "
       "ACCESS_LOG_CLIENT_ERRORS_PER_SECOND), every call slower than this (ms), and one in "
       "ACCESS_LOG_SAMPLE_EVERY of the other OK calls; the rest at debug (the metrics count "
       "them all)."},
      {"ACCESS_LOG_SAMPLE_EVERY", "100",
       "One in this many fast OK calls gets its per-RPC line at info (1: every call; 0: none)."},
      {"ACCESS_LOG_CLIENT_ERRORS_PER_SECOND", "20",
       "At most this many per-RPC lines a second at info for each status code that is neither "
       "OK nor a server error (INTERNAL, UNKNOWN, DATA_LOSS: always logged); the rest at debug, "
       "and the next info line's suppressed_lines says how many (0: no limit)."},
      {"TRANSPORT_SECURITY", "mtls",
       "mtls: TLS, and every caller presents a certificate TLS_CLIENT_CA_FILE signed, whose SAN "
       "(a SPIFFE URI or DNS name) the policy AUTHZ_POLICY_FILE names; tls: TLS without client "
       "certificates; insecure: plaintext, no service identity, for local development only."},
      {"TLS_CERT_FILE", "",
       "PEM certificate chain of the server (mtls, tls); also re-read when it changes."},
      {"TLS_KEY_FILE", "", "PEM private key of TLS_CERT_FILE."},
      {"TLS_CLIENT_CA_FILE", "",
       "PEM CA bundle that signs the callers' certificates (mtls: required)."},
      {"AUTHZ_POLICY_FILE", "",
       "gRFC A43 authorization policy (JSON), enforced per method by gRPC and re-read within a "
       "second of a change; allow rules named privileged* name the principals that may act for "
       "any user (mtls: required; tls: optional; insecure: not allowed)."},
  };
}

const char* TransportSecurityName(TransportSecurity mode) {
  switch (mode) {
    case TransportSecurity::kMutualTls:
      return "mtls";
    case TransportSecurity::kTls:
      return "tls";
    case TransportSecurity::kInsecure:
      return "insecure";
  }
  return "mtls";
}

namespace {

absl::StatusOr<TransportSecurity> ParseTransportSecurity(const std::string& value) {
  for (TransportSecurity mode :
       {TransportSecurity::kMutualTls, TransportSecurity::kTls, TransportSecurity::kInsecure}) {
    if (value == TransportSecurityName(mode)) return mode;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("TRANSPORT_SECURITY='", value, "' must be mtls, tls or insecure"));
}

// Which files each mode needs, and which it refuses: a setting that would
// be ignored is an error, so that nobody believes TLS or a policy is on
// when it is not.
absl::Status CheckTransportFiles(const ServerSettings& settings) {
  const char* mode = TransportSecurityName(settings.transport_security);
  const auto need = [&](const std::string& value, const char* name) {
    return value.empty() ? absl::InvalidArgumentError(
                               absl::StrCat("TRANSPORT_SECURITY=", mode, " needs ", name))
                         : absl::OkStatus();
  };
  const auto refuse = [&](const std::string& value, const char* name) {
    return value.empty() ? absl::OkStatus()
                         : absl::InvalidArgumentError(absl::StrCat(
                               name, " is set, but TRANSPORT_SECURITY=", mode, " would ignore it"));
  };
  std::vector<absl::Status> checks;
  switch (settings.transport_security) {
    case TransportSecurity::kMutualTls:
      checks = {need(settings.tls_cert_file, "TLS_CERT_FILE"),
                need(settings.tls_key_file, "TLS_KEY_FILE"),
                need(settings.tls_client_ca_file, "TLS_CLIENT_CA_FILE"),
                need(settings.authz_policy_file, "AUTHZ_POLICY_FILE")};
      break;
    case TransportSecurity::kTls:
      checks = {need(settings.tls_cert_file, "TLS_CERT_FILE"),
                need(settings.tls_key_file, "TLS_KEY_FILE"),
                refuse(settings.tls_client_ca_file, "TLS_CLIENT_CA_FILE")};
      break;
    case TransportSecurity::kInsecure:
      checks = {refuse(settings.tls_cert_file, "TLS_CERT_FILE"),
                refuse(settings.tls_key_file, "TLS_KEY_FILE"),
                refuse(settings.tls_client_ca_file, "TLS_CLIENT_CA_FILE"),
                refuse(settings.authz_policy_file, "AUTHZ_POLICY_FILE")};
      break;
  }
  for (const absl::Status& check : checks) {
    if (!check.ok()) return check;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerSettings> ReadServerSettings(const Config& config) {
  ServerSettings settings;
  settings.listen_address = config.GetString("LISTEN_ADDRESS");
  settings.metrics_address = config.GetString("METRICS_ADDRESS");
  if (settings.listen_address.empty()) {
    return absl::InvalidArgumentError("LISTEN_ADDRESS must not be empty");
  }
  auto deadline = config.GetInt("MAX_DEADLINE_MS", 1, 3600 * 1000);
  if (!deadline.ok()) return deadline.status();
  settings.max_deadline = std::chrono::milliseconds(*deadline);
  auto grace = config.GetInt("SHUTDOWN_GRACE_MS", 0, 3600 * 1000);
  if (!grace.ok()) return grace.status();
  settings.shutdown_grace = std::chrono::milliseconds(*grace);
  auto drain = config.GetInt("SHUTDOWN_DRAIN_DELAY_MS", 0, 3600 * 1000);
  if (!drain.ok()) return drain.status();
  settings.shutdown_drain_delay = std::chrono::milliseconds(*drain);
  auto age = config.GetInt("MAX_CONNECTION_AGE_MS", 0, 7 * 24 * 3600 * 1000LL);
  if (!age.ok()) return age.status();
  if (*age != 0 && *age < 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("MAX_CONNECTION_AGE_MS='", *age, "' must be 0 (never) or at least 1000"));
  }
  settings.max_connection_age = std::chrono::milliseconds(*age);
  auto age_grace = config.GetInt("MAX_CONNECTION_AGE_GRACE_MS", 0, 3600 * 1000);
  if (!age_grace.ok()) return age_grace.status();
  settings.max_connection_age_grace = std::chrono::milliseconds(*age_grace);
  // Every call's deadline is capped at MAX_DEADLINE_MS: a shorter grace
  // would cut calls that were allowed to run.
  if (*age != 0 && settings.max_connection_age_grace < settings.max_deadline) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MAX_CONNECTION_AGE_GRACE_MS=", *age_grace, " must be at least MAX_DEADLINE_MS=",
        settings.max_deadline.count(), ", or calls on an aged connection are cut"));
  }
  auto interval = config.GetInt("HEALTH_CHECK_INTERVAL_MS", 10, 3600 * 1000);
  if (!interval.ok()) return interval.status();
  settings.health_check_interval = std::chrono::milliseconds(*interval);
  auto level = ParseLogLevel(config.GetString("LOG_LEVEL"));
  if (!level.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("LOG_LEVEL='", config.GetString("LOG_LEVEL"),
                                                   "' must be debug, info, warn or error"));
  }
  SetLogLevel(*level);
  auto slow = config.GetInt("ACCESS_LOG_SLOW_MS", 0, 3600 * 1000);
  if (!slow.ok()) return slow.status();
  settings.access_log.slow = std::chrono::milliseconds(*slow);
  auto sample = config.GetInt("ACCESS_LOG_SAMPLE_EVERY", 0, 1000000000);
  if (!sample.ok()) return sample.status();
  settings.access_log.sample_every = *sample;
  auto client_errors = config.GetInt("ACCESS_LOG_CLIENT_ERRORS_PER_SECOND", 0, 1000000000);
  if (!client_errors.ok()) return client_errors.status();
  settings.access_log.client_errors_per_second = *client_errors;
  auto transport = ParseTransportSecurity(config.GetString("TRANSPORT_SECURITY"));
  if (!transport.ok()) return transport.status();
  settings.transport_security = *transport;
  settings.tls_cert_file = config.GetString("TLS_CERT_FILE");
  settings.tls_key_file = config.GetString("TLS_KEY_FILE");
  settings.tls_client_ca_file = config.GetString("TLS_CLIENT_CA_FILE");
  settings.authz_policy_file = config.GetString("AUTHZ_POLICY_FILE");
  if (absl::Status files = CheckTransportFiles(settings); !files.ok()) return files;
  return settings;
}

absl::StatusOr<DatabaseSettings> ReadDatabaseSettings(const Config& config) {
  DatabaseSettings settings;
  auto pool = config.GetInt("DB_POOL_SIZE", 1, 256);
  if (!pool.ok()) return pool.status();
  settings.pool_size = static_cast<int>(*pool);
  const std::string& prepared = config.GetString("DB_PREPARED_STATEMENTS");
  if (prepared != "on" && prepared != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("DB_PREPARED_STATEMENTS='", prepared, "' must be on or off"));
  }
  settings.prepared_statements = prepared == "on";
  return settings;
}

absl::StatusOr<std::string> ReadSettingFile(const std::string& path, const std::string& setting) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", setting, " ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace microblog
