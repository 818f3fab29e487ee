// W3C trace context (https://www.w3.org/TR/trace-context/) of an incoming
// call: logged with every RPC, and forwarded on the calls it causes so that
// one trace spans both services.
//
//   TraceContext trace = TraceContextFrom(*context);
//   AddTo(trace, client_context);   // on the outgoing call
#ifndef MICROBLOG_COMMON_TRACE_CONTEXT_H_
#define MICROBLOG_COMMON_TRACE_CONTEXT_H_

#include <string>

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

namespace microblog {

// Empty fields are absent from the call's metadata.
struct TraceContext {
  std::string traceparent;
  std::string tracestate;
};

// The trace context of `context`'s client metadata.
TraceContext TraceContextFrom(const grpc::ServerContextBase& context);

// Adds the non-empty fields of `trace` to an outgoing call's metadata.
void AddTo(const TraceContext& trace, grpc::ClientContext& context);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_TRACE_CONTEXT_H_
