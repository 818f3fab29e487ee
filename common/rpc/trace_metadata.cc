#include "common/rpc/trace_metadata.h"

#include <optional>
#include <string>

namespace microblog {
namespace {

std::string ClientMetadata(const grpc::ServerContextBase& context, const char* key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(key);
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

TraceContext TraceContextFrom(const grpc::ServerContextBase& context) {
  const std::optional<Traceparent> traceparent =
      ParseTraceparent(ClientMetadata(context, "traceparent"));
  if (!traceparent.has_value()) return TraceContext{};
  return TraceContext{FormatTraceparent(*traceparent), ClientMetadata(context, "tracestate")};
}

void AddTo(const TraceContext& trace, grpc::ClientContext& context) {
  if (!trace.traceparent.empty()) context.AddMetadata("traceparent", trace.traceparent);
  if (!trace.tracestate.empty()) context.AddMetadata("tracestate", trace.tracestate);
}

}  // namespace microblog
