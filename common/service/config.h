// Configuration from environment variables, overridden by command-line
// flags, with a generated --help.
//
// Each option is named by its environment variable (LISTEN_ADDRESS); its
// flag is the same name in lower case with dashes (--listen-address=VALUE
// or --listen-address VALUE). These names are an interface: manifests,
// scripts and the README use exactly them.
//
//   std::vector<ConfigOption> options = CommonServerOptions("0.0.0.0:50051");
//   options.push_back({"USER_DATABASE_URL", "", "libpq URL of the users database"});
//   auto config = Config::Parse("user-service", "Serves ...", options, argc, argv);
//   if (!config.ok()) { std::cerr << config.status().message(); return 2; }
//   if (config->help_requested()) { std::cout << config->HelpText(); return 0; }
//   absl::StatusOr<int64_t> pool_size = config->GetInt("DB_POOL_SIZE", 1, 256);
//
// Thread-safety: a Config is immutable after Parse(); concurrent reads are
// safe.
#ifndef MICROBLOG_COMMON_SERVICE_CONFIG_H_
#define MICROBLOG_COMMON_SERVICE_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace microblog {

struct ConfigOption {
  std::string env;            // e.g. "LISTEN_ADDRESS"
  std::string default_value;  // "" means unset
  std::string help;           // one line for --help
};

class Config {
 public:
  // Reads every option from the environment, then applies argv flags.
  // Errors (INVALID_ARGUMENT, message ready for the terminal): unknown flag,
  // flag without value, positional argument.
  static absl::StatusOr<Config> Parse(const std::string& program, const std::string& description,
                                      const std::vector<ConfigOption>& options, int argc,
                                      const char* const* argv);

  bool help_requested() const { return help_requested_; }
  std::string HelpText() const;

  // The value of a declared option ("" when unset). Asking for an
  // undeclared option is a programming error (aborts).
  const std::string& GetString(const std::string& env) const;
  // Whether `env` is a declared option.
  bool Has(const std::string& env) const { return values_.count(env) > 0; }
  // Integer value; INVALID_ARGUMENT naming the variable when not an integer
  // or outside [min, max].
  absl::StatusOr<int64_t> GetInt(const std::string& env, int64_t min, int64_t max) const;

 private:
  Config() = default;
  std::string program_;
  std::string description_;
  std::vector<ConfigOption> options_;
  std::map<std::string, std::string> values_;
  bool help_requested_ = false;
};

// Options every server has: LISTEN_ADDRESS, METRICS_ADDRESS, DB_POOL_SIZE,
// DB_PREPARED_STATEMENTS, MAX_DEADLINE_MS, SHUTDOWN_DRAIN_DELAY_MS, SHUTDOWN_GRACE_MS,
// MAX_CONNECTION_AGE_MS, MAX_CONNECTION_AGE_GRACE_MS, LOG_LEVEL, ACCESS_LOG_SLOW_MS,
// ACCESS_LOG_SAMPLE_EVERY, ACCESS_LOG_CLIENT_ERRORS_PER_SECOND, HEALTH_CHECK_INTERVAL_MS,
// TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE.
std::vector<ConfigOption> CommonServerOptions(const std::string& default_listen_address,
                                              const std::string& default_metrics_address = "");

// Which calls get their per-RPC log line at info (the others at debug):
// every server error (INTERNAL, UNKNOWN, DATA_LOSS: at error), up to
// `client_errors_per_second` lines a second for each other code that is not
// OK (0: no limit; the line after a full second says how many it left out),
// every call that took `slow` or longer, and one in `sample_every` of the
// rest (0: none). bench/README.md has the numbers behind the defaults: one
// line per call costs a tenth of the throughput, and a flood of refusals
// must not become a flood of lines (OWASP Logging Cheat Sheet: log flooding).
struct AccessLogPolicy {
  std::chrono::milliseconds slow{100};
  int64_t sample_every = 100;
  int64_t client_errors_per_second = 20;
};

// TRANSPORT_SECURITY: how callers reach the server, and what proves who
// they are (docs/operations.md, "Service identity"):
//  - kMutualTls ("mtls", the default): TLS, a client certificate signed by
//    TLS_CLIENT_CA_FILE required from every caller, whose SANs are its
//    identity for the authorization policy (AUTHZ_POLICY_FILE, required);
//  - kTls ("tls"): TLS without client certificates (no service identity);
//  - kInsecure ("insecure"): plaintext, for local development only (logs a
//    warning at start-up); no TLS_* and no policy may be set.
enum class TransportSecurity { kMutualTls, kTls, kInsecure };

// "mtls", "tls" or "insecure".
const char* TransportSecurityName(TransportSecurity mode);

// The server settings read from those options.
struct ServerSettings {
  std::string listen_address;
  std::string metrics_address;  // empty: no metrics server
  // Cap on how long any request may run, whatever deadline the client set
  // (also the database statement timeout).
  std::chrono::milliseconds max_deadline{10000};
  // After SIGTERM: how long the server keeps serving, health NOT_SERVING,
  // before it stops accepting calls (clients move away meanwhile).
  std::chrono::milliseconds shutdown_drain_delay{0};
  // Then: how long in-flight calls may run before they are cancelled.
  std::chrono::milliseconds shutdown_grace{10000};
  // GOAWAY to each connection after this age (+/-10 %, gRPC's jitter); 0:
  // never. Calls in progress then get max_connection_age_grace.
  std::chrono::milliseconds max_connection_age{0};
  std::chrono::milliseconds max_connection_age_grace{10000};
  std::chrono::milliseconds health_check_interval{1000};
  AccessLogPolicy access_log;
  TransportSecurity transport_security = TransportSecurity::kMutualTls;
  std::string tls_cert_file;  // set in kTls and kMutualTls, with the key
  std::string tls_key_file;
  std::string tls_client_ca_file;  // kMutualTls: clients must present a certificate it signed
  // gRFC A43 authorization policy (kMutualTls: required; kTls: optional;
  // kInsecure: refused, no caller has an identity there).
  std::string authz_policy_file;
};

// Validates and converts the common options but the database's (below);
// also applies LOG_LEVEL.
absl::StatusOr<ServerSettings> ReadServerSettings(const Config& config);

// The settings of a service's connection pool among those options: the
// database's, not the server's (ServiceConfig::database, service_main.h,
// turns them into ConnectionPoolOptions).
struct DatabaseSettings {
  int pool_size = 8;  // DB_POOL_SIZE
  // DB_PREPARED_STATEMENTS: named server-side prepared statements and the
  // per-connection statement_timeout (on), or only what a transaction-mode
  // pooler such as PgBouncer allows (off; ConnectionPoolOptions).
  bool prepared_statements = true;
};

// Validates and converts DB_POOL_SIZE and DB_PREPARED_STATEMENTS.
absl::StatusOr<DatabaseSettings> ReadDatabaseSettings(const Config& config);

// The contents of the file that setting `setting` (e.g. "TLS_CERT_FILE")
// names; INVALID_ARGUMENT naming both when it cannot be read.
absl::StatusOr<std::string> ReadSettingFile(const std::string& path, const std::string& setting);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_SERVICE_CONFIG_H_
