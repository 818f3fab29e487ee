#include "common/base/trace_context.h"

#include <cstddef>
#include <random>

namespace microblog {
namespace {

constexpr std::size_t kVersion00Length = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2

int LowerHexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool IsLowerHex(std::string_view text) {
  for (char c : text) {
    if (LowerHexDigit(c) < 0) return false;
  }
  return true;
}

bool IsAllZero(std::string_view text) {
  return text.find_first_not_of('0') == std::string_view::npos;
}

// Two lower-case hex digits as a byte; nullopt otherwise.
std::optional<uint8_t> HexByte(std::string_view text) {
  if (text.size() != 2 || !IsLowerHex(text)) return std::nullopt;
  return static_cast<uint8_t>(LowerHexDigit(text[0]) * 16 + LowerHexDigit(text[1]));
}

}  // namespace

std::optional<Traceparent> ParseTraceparent(std::string_view text) {
  if (text.size() < kVersion00Length || text[2] != '-' || text[35] != '-' || text[52] != '-') {
    return std::nullopt;
  }
  const std::optional<uint8_t> version = HexByte(text.substr(0, 2));
  if (!version.has_value() || *version == 0xff) return std::nullopt;
  if (*version == 0 ? text.size() != kVersion00Length
                    : text.size() > kVersion00Length && text[kVersion00Length] != '-') {
    return std::nullopt;
  }
  const std::string_view trace_id = text.substr(3, 32);
  const std::string_view parent_id = text.substr(36, 16);
  const std::optional<uint8_t> flags = HexByte(text.substr(53, 2));
  if (!IsLowerHex(trace_id) || IsAllZero(trace_id) || !IsLowerHex(parent_id) ||
      IsAllZero(parent_id) || !flags.has_value()) {
    return std::nullopt;
  }
  return Traceparent{*version, std::string(trace_id), std::string(parent_id), *flags};
}

std::string FormatTraceparent(const Traceparent& traceparent) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char flags[] = {kHex[traceparent.flags >> 4], kHex[traceparent.flags & 0xf], '\0'};
  return "00-" + traceparent.trace_id + "-" + traceparent.parent_id + "-" + flags;
}

TraceContext ChildSpan(const TraceContext& parent) {
  std::optional<Traceparent> traceparent = ParseTraceparent(parent.traceparent);
  if (!traceparent.has_value()) return TraceContext{};
  static constexpr char kHex[] = "0123456789abcdef";
  // One generator per thread: no lock on the hot path.
  thread_local std::mt19937_64 random(std::random_device{}());
  std::string span_id(16, '0');
  do {
    uint64_t bits = random();
    for (char& digit : span_id) {
      digit = kHex[bits & 0xf];
      bits >>= 4;
    }
  } while (IsAllZero(span_id));
  traceparent->parent_id = std::move(span_id);
  return TraceContext{FormatTraceparent(*traceparent), parent.tracestate};
}

LogTrace TraceLogFieldsOf(const TraceContext& trace) {
  const std::optional<Traceparent> traceparent = ParseTraceparent(trace.traceparent);
  if (!traceparent.has_value()) return {};
  std::string traceparent_text = FormatTraceparent(*traceparent);
  return {traceparent->trace_id, traceparent->parent_id, traceparent_text.substr(53, 2)};
}

std::shared_ptr<const LogTrace> SharedLogTraceOf(const TraceContext& trace) {
  if (trace.traceparent.empty()) return nullptr;  // the common case: no parsing
  LogTrace fields = TraceLogFieldsOf(trace);
  if (fields.trace_id.empty()) return nullptr;
  return std::make_shared<const LogTrace>(std::move(fields));
}

}  // namespace microblog
