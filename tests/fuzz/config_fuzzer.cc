// Fuzz target: command-line configuration (common/service/config.h). The input,
// split at NUL bytes, is the argument list of a server with the common
// options; whatever Config::Parse accepts must convert to settings in their
// documented ranges or be refused with INVALID_ARGUMENT, and --help must
// list every option. (The environment feeds the same values map as flags,
// so flags reach every conversion.)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/log.h"
#include "common/service/config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr std::size_t kMaxArgs = 64;
  std::vector<std::string> args = {"svc"};
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty() && args.size() < kMaxArgs) {
    const std::size_t nul = rest.find('\0');
    args.emplace_back(rest.substr(0, nul));
    rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  }
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());

  const std::vector<microblog::ConfigOption> options =
      microblog::CommonServerOptions("0.0.0.0:50051");
  const absl::StatusOr<microblog::Config> config = microblog::Config::Parse(
      "svc", "fuzzed", options, static_cast<int>(argv.size()), argv.data());
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  if (config->help_requested()) {
    const std::string help = config->HelpText();
    for (const microblog::ConfigOption& option : options) {
      FUZZ_CHECK(help.find(option.env) != std::string::npos);
    }
  }
  const absl::StatusOr<microblog::ServerSettings> settings = microblog::ReadServerSettings(*config);
  if (!settings.ok()) {
    FUZZ_CHECK(settings.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(!settings->listen_address.empty());
  FUZZ_CHECK(settings->max_deadline.count() >= 1);
  FUZZ_CHECK(settings->tls_cert_file.empty() == settings->tls_key_file.empty());
  microblog::SetLogLevel(microblog::LogLevel::kInfo);  // ReadServerSettings applied LOG_LEVEL
  const absl::StatusOr<microblog::DatabaseSettings> database =
      microblog::ReadDatabaseSettings(*config);
  if (!database.ok()) {
    FUZZ_CHECK(database.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(database->pool_size >= 1 && database->pool_size <= 256);
  return 0;
}
