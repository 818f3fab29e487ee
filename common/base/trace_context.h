// W3C trace context (https://www.w3.org/TR/trace-context/) of an incoming
// call: logged with every RPC, and forwarded on the calls it causes so that
// one trace spans both services. This header holds the values and their
// parsing; reading them from a call's metadata and writing them to an
// outgoing call's is common/rpc/trace_metadata.h's job.
//
//   TraceContext trace = TraceContextFrom(*context);   // common/rpc/
//   AddTo(ChildSpan(trace), client_context);           // on the outgoing call
//   Log(LogLevel::kInfo, "rpc", {{"trace_id", TraceLogFieldsOf(trace).trace_id}, ...});
//
// A traceparent that does not parse is dropped, with its tracestate, as the
// specification requires: a client cannot make us log or forward arbitrary
// bytes as trace context.
#ifndef MICROBLOG_COMMON_BASE_TRACE_CONTEXT_H_
#define MICROBLOG_COMMON_BASE_TRACE_CONTEXT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/log.h"

namespace microblog {

// Empty fields are absent from the call's metadata.
struct TraceContext {
  std::string traceparent;
  std::string tracestate;
};

// The fields of a traceparent header: "00-<trace-id>-<parent-id>-<flags>".
struct Traceparent {
  uint8_t version = 0;
  std::string trace_id;   // 32 lower-case hex digits, not all zero
  std::string parent_id;  // 16 lower-case hex digits, not all zero
  uint8_t flags = 0;      // bit 0: sampled
};

// Parses a traceparent header value: 2 hex digits of version (not "ff"),
// then trace-id, parent-id and flags, dash-separated, all lower-case hex.
// Version 00 is exactly 55 characters; a later version may append
// "-<more>", which is ignored (the specification's forward compatibility).
// nullopt when `text` is not such a value.
std::optional<Traceparent> ParseTraceparent(std::string_view text);

// The version-00 header value of `traceparent`.
std::string FormatTraceparent(const Traceparent& traceparent);

// The trace context of a call made on behalf of `parent`: the same trace id,
// flags and tracestate, and a new random span id (the outgoing call's own
// span, which the callee logs). Empty when `parent` is.
TraceContext ChildSpan(const TraceContext& parent);

// The fields OpenTelemetry names for trace context in non-OTLP logs, from
// `trace`'s traceparent: all empty when there is none.
LogTrace TraceLogFieldsOf(const TraceContext& trace);

// The same, shared, for a ScopedLogTrace (common/base/log.h); null when `trace`
// has no valid traceparent.
std::shared_ptr<const LogTrace> SharedLogTraceOf(const TraceContext& trace);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_TRACE_CONTEXT_H_
