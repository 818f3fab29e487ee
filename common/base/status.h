// Error values shared by both services.
//
// Service logic returns absl::Status / absl::StatusOr; only the gRPC edge
// turns them into grpc::Status with ToGrpcStatus() (common/rpc/grpc_status.h).
// Rich error details
// (google.rpc.BadRequest, google.rpc.ResourceInfo) travel inside the
// absl::Status as payloads keyed by their type URL, and come out as the
// google.rpc.Status details that gRPC clients (grpcurl, generated stubs)
// understand.
//
//   if (name.empty()) {
//     return InvalidArgument({{"username", "must not be empty"}});
//   }
//   ...
//   return ToGrpcStatus(result.status());   // in the handler (common/rpc/)
//
// Thread-safety: all functions are free functions without shared state.
#ifndef MICROBLOG_COMMON_BASE_STATUS_H_
#define MICROBLOG_COMMON_BASE_STATUS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace microblog {

// One bad field of a request: `field` is the proto field path
// ("username", "update_mask.paths[1]"), `description` says what is wrong
// and what is accepted.
struct FieldViolation {
  std::string field;
  std::string description;
};

// INVALID_ARGUMENT carrying a google.rpc.BadRequest with one violation per
// bad field. The message lists them too, for clients that ignore details.
// `violations` must not be empty.
absl::Status InvalidArgument(const std::vector<FieldViolation>& violations);

// NOT_FOUND carrying a google.rpc.ResourceInfo (AIP-193), e.g.
// NotFoundResource("user", "42", "user 42 does not exist").
absl::Status NotFoundResource(std::string_view resource_type, std::string_view resource_name,
                              std::string_view message);

// The NOT_FOUND of a resource known by its numeric id: message
// "<type> <id> does not exist", and a ResourceInfo naming it, e.g.
// NotFoundResource("user", 42). One builder, so that user-service's answer
// and post-service's (relaying user-service's) read the same.
absl::Status NotFoundResource(std::string_view resource_type, int64_t id);

// RESOURCE_EXHAUSTED carrying a google.rpc.RetryInfo whose retry_delay is
// `retry_delay` (rounded up to whole milliseconds, at least 1 ms), for a
// call refused because the service is out of capacity or the caller over
// its limit: the client should retry no sooner than that (AIP-194). The
// message says what ran out, e.g. ResourceExhaustedRetryAfter(
// "too many password checks waiting; retry later", std::chrono::seconds(1)).
absl::Status ResourceExhaustedRetryAfter(std::string_view message,
                                         std::chrono::nanoseconds retry_delay);

// The retry delay of the google.rpc.RetryInfo carried by `status`, if any.
// Mainly for tests.
std::optional<std::chrono::milliseconds> RetryDelayOf(const absl::Status& status);

// The field violations carried by `status` (empty when there are none).
// Mainly for tests and logs.
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_STATUS_H_
