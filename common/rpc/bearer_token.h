// The access token of a call: its `authorization` metadata in the form
// RFC 6750 §2.1 defines, "Bearer <token>" (the scheme without regard to
// case, RFC 7235 §2.1), as Istio, Envoy and grpc-gateway send it.
//
//   absl::StatusOr<Caller> caller = AuthenticateCall(*context, authenticator);
//
// Thread-safety: free functions without state.
#ifndef MICROBLOG_COMMON_RPC_BEARER_TOKEN_H_
#define MICROBLOG_COMMON_RPC_BEARER_TOKEN_H_

#include <optional>
#include <string_view>
#include <vector>

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "common/base/authenticator.h"
#include "common/base/caller.h"

namespace microblog {

// The token of the `authorization` values `values` (all of the call's):
// nullopt without any; UNAUTHENTICATED for more than one, another scheme,
// or an empty token.
absl::StatusOr<std::optional<std::string_view>> BearerTokenOf(
    const std::vector<std::string_view>& values);

// Who calls: an anonymous Caller without a token, the token's user with a
// token `authenticator` accepts, else UNAUTHENTICATED. A token that is
// present is always checked, even where the RPC needs none (Istio's
// RequestAuthentication does the same): a client learns at once that its
// token is bad. Without `authenticator`, every token is refused.
absl::StatusOr<Caller> AuthenticateCall(const grpc::ServerContextBase& context,
                                        const Authenticator* authenticator);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_BEARER_TOKEN_H_
