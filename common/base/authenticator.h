// The edge's view of token verification: turns the bearer token a call
// carries into the Caller it proves (common/base/caller.h). Implemented by
// TokenVerifier (common/auth/token_verifier.h); the gRPC edge
// (common/rpc/call_forwarder.h) calls it with the token of the call's
// `authorization: Bearer <token>` metadata (RFC 6750 §2.1).
#ifndef MICROBLOG_COMMON_BASE_AUTHENTICATOR_H_
#define MICROBLOG_COMMON_BASE_AUTHENTICATOR_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "common/base/caller.h"

namespace microblog {

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The caller `token` proves, or UNAUTHENTICATED (one message for every
  // reason). Thread-safe in every implementation.
  virtual absl::StatusOr<Caller> Authenticate(std::string_view token) const = 0;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_AUTHENTICATOR_H_
