#include "common/base/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace microblog {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

thread_local std::shared_ptr<const LogTrace> t_trace;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<int>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string NowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return absl::StrFormat("%s.%03dZ", buf, static_cast<int>(millis));
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  const std::string lower = absl::AsciiStrToLower(std::string(text));
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warn" || lower == "warning") return LogLevel::kWarn;
  if (lower == "error") return LogLevel::kError;
  return std::nullopt;
}

void SetLogLevel(LogLevel level) { g_min_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_min_level.load(); }

void Log(LogLevel level, std::string_view msg, absl::Span<const LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string line = "{\"time\":";
  AppendJsonString(line, NowRfc3339());
  line += ",\"level\":";
  AppendJsonString(line, LevelName(level));
  line += ",\"msg\":";
  AppendJsonString(line, msg);
  bool own_trace = false;
  for (const LogField& field : fields) {
    own_trace = own_trace || field.key == "trace_id";
    line.push_back(',');
    AppendJsonString(line, field.key);
    line.push_back(':');
    if (const auto* s = std::get_if<std::string_view>(&field.value)) {
      AppendJsonString(line, *s);
    } else if (const auto* i = std::get_if<int64_t>(&field.value)) {
      absl::StrAppend(&line, *i);
    } else if (const auto* d = std::get_if<double>(&field.value)) {
      absl::StrAppend(&line, absl::StrFormat("%.3f", *d));
    } else {
      line += std::get<bool>(field.value) ? "true" : "false";
    }
  }
  if (t_trace != nullptr && !own_trace) {
    line += ",\"trace_id\":";
    AppendJsonString(line, t_trace->trace_id);
    line += ",\"span_id\":";
    AppendJsonString(line, t_trace->span_id);
    line += ",\"trace_flags\":";
    AppendJsonString(line, t_trace->trace_flags);
  }
  line += "}\n";
  // One fwrite of the whole line: stdio locks the stream, so lines of
  // concurrent callers never interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

ScopedLogTrace::ScopedLogTrace(std::shared_ptr<const LogTrace> trace)
    : previous_(std::exchange(t_trace, std::move(trace))) {}

ScopedLogTrace::~ScopedLogTrace() { t_trace = std::move(previous_); }

const std::shared_ptr<const LogTrace>& CurrentLogTrace() { return t_trace; }

}  // namespace microblog
