// The access token of a call: its `authorization` metadata in the form
// RFC 6750 §2.1 defines, "Bearer <token>" (the scheme without regard to
// case, RFC 7235 §2.1), as Istio, Envoy and grpc-gateway send it.
//
//   absl::StatusOr<std::optional<std::string_view>> token = BearerTokenOf(values);
//
// AuthenticateCall (common/rpc/call_authentication.h) is its user.
//
// Thread-safety: free functions without state.
#ifndef MICROBLOG_COMMON_RPC_BEARER_TOKEN_H_
#define MICROBLOG_COMMON_RPC_BEARER_TOKEN_H_

#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace microblog {

// The token of the `authorization` values `values` (all of the call's):
// nullopt without any; UNAUTHENTICATED for more than one, another scheme,
// or an empty token.
absl::StatusOr<std::optional<std::string_view>> BearerTokenOf(
    const std::vector<std::string_view>& values);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_BEARER_TOKEN_H_
