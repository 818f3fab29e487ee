// Who is calling, as the edge proved it: the end user of a verified access
// token (common/auth/access_token.h), and whether the caller's service
// identity is privileged (an mTLS principal the authorization policy names,
// common/rpc/authorization_enforcer.h). The logic decides with it who may act
// for whom and who may see personal data; it never sees a token or a
// certificate.
//
//   absl::Status allowed = RequireActingFor(caller, request.user_id(), "user_id");
//   if (!allowed.ok()) return allowed;  // UNAUTHENTICATED or PERMISSION_DENIED
//   if (!MaySeePersonalDataOf(caller, user.id)) user.clear_email();
//
// The rules (OWASP ASVS v4.0.3 V4.1.1/V4.2.1: access decided on the server,
// per resource; the user id comes from the token's `sub`, never from the
// request alone):
//  - a change made for user U needs U's token, or a privileged caller;
//  - without a token such a change is UNAUTHENTICATED, with another user's
//    token PERMISSION_DENIED;
//  - personal data (the e-mail address) is seen by its owner and by
//    privileged callers only.
//
// Plain values: copy freely, thread-compatible.
#ifndef MICROBLOG_COMMON_BASE_CALLER_H_
#define MICROBLOG_COMMON_BASE_CALLER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace microblog {

struct Caller {
  // The end user the call's access token was issued to (its `sub`); 0 when
  // the call carries no token.
  int64_t user_id = 0;
  // The token's credentials version (its `ver` claim): the account's
  // credentials version when the token was issued. A password change raises
  // the account's, which revokes every token issued before.
  int64_t credentials_version = 0;
  // The caller's service identity is named by the authorization policy as
  // one that may act for any user (an operator's admin identity).
  bool privileged = false;

  bool has_token() const { return user_id > 0; }
  // Whether the token's user is `id`.
  bool is_user(int64_t id) const { return has_token() && user_id == id; }
};

// OK when `caller` may change what belongs to user `owner_id`: a privileged
// caller, or `owner_id`'s own token. Else UNAUTHENTICATED (no token: "this
// call needs an access token") or PERMISSION_DENIED (another user's token;
// the message names `what`, e.g. "post 12", never the token's user).
absl::Status RequireActingFor(const Caller& caller, int64_t owner_id, std::string_view what);

// UNAUTHENTICATED unless the call carries a token (privileged callers
// pass too).
absl::Status RequireToken(const Caller& caller);

// Whether `caller` may see user `user_id`'s personal data (the e-mail
// address): the user themself, or a privileged caller.
bool MaySeePersonalDataOf(const Caller& caller, int64_t user_id);

// UNAUTHENTICATED "invalid or expired access token": what every token that
// does not verify gets, whatever the reason (which only the log may hold).
absl::Status InvalidToken();

// UNAUTHENTICATED "access token revoked": what a call gets whose token was
// valid when issued but no longer is (its user was deleted, or changed the
// password since).
absl::Status TokenRevoked();

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_CALLER_H_
