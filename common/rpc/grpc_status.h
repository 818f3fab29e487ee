// absl::Status <-> grpc::Status, at the gRPC edge of a service.
//
// Service logic returns absl::Status / absl::StatusOr (the builders of
// common/base/status.h); a handler turns them into the grpc::Status sent to
// clients with ToGrpcStatus(), and a client of another service turns that
// service's grpc::Status back into an absl::Status with FromGrpcStatus().
//
//   return ToGrpcStatus(result.status());   // in the handler
//
// Thread-safety: all functions are free functions without shared state.
#ifndef MICROBLOG_COMMON_RPC_GRPC_STATUS_H_
#define MICROBLOG_COMMON_RPC_GRPC_STATUS_H_

#include <chrono>
#include <optional>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace microblog {

// Maps an absl::Status onto the grpc::Status sent to clients. The code is
// kept; payloads become google.rpc.Status details. Codes that signal a bug
// or an unexpected failure (INTERNAL, UNKNOWN, DATA_LOSS) get the generic
// message "internal error": whatever the original message says (SQL,
// connection strings) stays in the server log, which this function writes.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The absl::Status of a call's grpc::Status: the same code (gRPC's codes
// have Abseil's values) and message; the details are dropped.
absl::Status FromGrpcStatus(const grpc::Status& status);

// The delay of the google.rpc.RetryInfo detail a call's `status` carries
// (what ResourceExhaustedRetryAfter() sent), if any: how long a client
// should wait before it calls again.
std::optional<std::chrono::milliseconds> RetryDelayOf(const grpc::Status& status);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_GRPC_STATUS_H_
