// The W3C trace context (common/base/trace_context.h) in gRPC metadata: read
// from an incoming call's `traceparent` and `tracestate` keys, written to an
// outgoing call's.
//
//   TraceContext trace = TraceContextFrom(*context);
//   AddTo(ChildSpan(trace), client_context);   // on the outgoing call
//
// Thread-safety: free functions without shared state.
#ifndef MICROBLOG_COMMON_RPC_TRACE_METADATA_H_
#define MICROBLOG_COMMON_RPC_TRACE_METADATA_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include "common/base/trace_context.h"

namespace microblog {

// The trace context of `context`'s client metadata: the traceparent in its
// version-00 form, and the tracestate, when the traceparent parses; nothing
// otherwise.
TraceContext TraceContextFrom(const grpc::ServerContextBase& context);

// Adds the non-empty fields of `trace` to an outgoing call's metadata.
void AddTo(const TraceContext& trace, grpc::ClientContext& context);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_TRACE_METADATA_H_
