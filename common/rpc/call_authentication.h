// Who calls, as the edge proves it for every call (common/base/caller.h):
// the end user of the call's access token (`authorization: Bearer`,
// bearer_token.h, checked by an Authenticator), and whether its service
// identity, the mTLS peer certificate, is one of the privileged principals
// of the authorization policy (authorization_enforcer.h).
//
//   CallAuthentication auth{&token_verifier, enforcer.get()};
//   absl::StatusOr<Caller> caller = AuthenticateCall(*context, auth);
//
// Thread-safety: a plain struct of borrowed pointers; AuthenticateCall is
// safe from any thread when the pointees are.
#ifndef MICROBLOG_COMMON_RPC_CALL_AUTHENTICATION_H_
#define MICROBLOG_COMMON_RPC_CALL_AUTHENTICATION_H_

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "common/base/authenticator.h"
#include "common/base/caller.h"
#include "common/rpc/authorization_enforcer.h"

namespace microblog {

struct CallAuthentication {
  // Checks access tokens; null refuses every token.
  const Authenticator* tokens = nullptr;
  // The authorization policy, for its privileged service identities;
  // null: nobody is privileged (no policy, e.g. TRANSPORT_SECURITY=insecure).
  const AuthorizationEnforcer* policy = nullptr;
};

// Who calls: an anonymous Caller without a token, the token's user with a
// token `auth.tokens` accepts, else UNAUTHENTICATED; privileged when the
// peer's certificate is a privileged principal. A token that is present is
// always checked, even where the RPC needs none (Istio's
// RequestAuthentication does the same): a client learns at once that its
// token is bad.
absl::StatusOr<Caller> AuthenticateCall(const grpc::ServerContextBase& context,
                                        const CallAuthentication& auth);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_CALL_AUTHENTICATION_H_
