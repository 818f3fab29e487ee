// Structured logging: one JSON object per line on stderr.
//
//   Log(LogLevel::kInfo, "listening", {{"address", address}, {"port", port}});
//
// prints {"time":"2026-11-25T20:30:00.123Z","level":"info","msg":"listening",
// "address":"0.0.0.0:50051","port":50051}. Callers must never pass
// passwords, password hashes or database URLs containing passwords (see
// RedactUrl()).
//
// Lines written while a call is served carry its W3C trace context, under
// OpenTelemetry's field names for non-OTLP logs (trace_id, span_id,
// trace_flags): the code serving a call installs a ScopedLogTrace on each
// thread it works on (common/rpc/unary_call.h does it for the handlers, worker
// jobs and replies; Batcher for its batches).
//
// Thread-safety: every function may be called from any thread; lines from
// concurrent callers never interleave.
#ifndef MICROBLOG_COMMON_BASE_LOG_H_
#define MICROBLOG_COMMON_BASE_LOG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/base/redact.h"  // RedactUrl, for the fields of log lines

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

// Writes one line at `level` with `fields`, and the current thread's trace
// (below) unless `fields` name a trace_id of their own.
void Log(LogLevel level, std::string_view msg, absl::Span<const LogField> fields = {});

// The trace a line belongs to; ids in lowercase hex.
struct LogTrace {
  std::string trace_id;     // 32 hex digits
  std::string span_id;      // the span of the logged work: 16 hex digits
  std::string trace_flags;  // 2 hex digits
};

// Makes `trace` the current thread's while it lives (null: no trace), then
// restores the previous one. Stack-only: create and destroy on one thread.
class ScopedLogTrace {
 public:
  explicit ScopedLogTrace(std::shared_ptr<const LogTrace> trace);
  ~ScopedLogTrace();
  ScopedLogTrace(const ScopedLogTrace&) = delete;
  ScopedLogTrace& operator=(const ScopedLogTrace&) = delete;

 private:
  std::shared_ptr<const LogTrace> previous_;
};

// The current thread's trace, or null: to hand it with work to another
// thread.
const std::shared_ptr<const LogTrace>& CurrentLogTrace();

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_LOG_H_
