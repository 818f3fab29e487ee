// Structured logging: one JSON object per line on stderr.
//
//   Log(LogLevel::kInfo, "listening", {{"address", address}, {"port", port}});
//
// prints {"time":"2026-11-25T20:30:00.123Z","level":"info","msg":"listening",
// "address":"0.0.0.0:50051","port":50051}. Callers must never pass
// passwords, password hashes or database URLs containing passwords (see
// RedactUrl()).
//
// Thread-safety: every function may be called from any thread; lines from
// concurrent callers never interleave.
#ifndef MICROBLOG_COMMON_LOG_H_
#define MICROBLOG_COMMON_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/strings/string_view.h"
#include "common/redact.h"  // RedactUrl, for the fields of log lines

namespace microblog {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn"/"warning", "error" (any case).
std::optional<LogLevel> ParseLogLevel(std::string_view text);

// Lines below `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// A field value: string, integer, floating point or boolean.
using LogValue = std::variant<std::string_view, int64_t, double, bool>;
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  // Debian's Abseil has its own string_view type (not std::string_view).
  LogField(std::string_view k, absl::string_view v)
      : key(k), value(std::string_view(v.data(), v.size())) {}
  LogField(std::string_view k, int v) : key(k), value(int64_t{v}) {}
  LogField(std::string_view k, long v) : key(k), value(int64_t{v}) {}
  LogField(std::string_view k, long long v) : key(k), value(int64_t{v}) {}
  LogField(std::string_view k, unsigned v) : key(k), value(int64_t{v}) {}
  LogField(std::string_view k, unsigned long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
  std::string_view key;
  LogValue value;
};

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

}  // namespace microblog

#endif  // MICROBLOG_COMMON_LOG_H_
