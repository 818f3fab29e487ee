#include "common/base/caller.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace microblog {

absl::Status RequireToken(const Caller& caller) {
  if (caller.privileged || caller.has_token()) return absl::OkStatus();
  return absl::UnauthenticatedError(
      "this call needs an access token (metadata \"authorization: Bearer <token>\", from "
      "VerifyPassword)");
}

absl::Status RequireActingFor(const Caller& caller, int64_t owner_id, std::string_view what) {
  if (caller.privileged || caller.is_user(owner_id)) return absl::OkStatus();
  if (absl::Status token = RequireToken(caller); !token.ok()) return token;
  return absl::PermissionDeniedError(
      absl::StrCat("the access token does not allow changing ", std::string(what)));
}

bool MaySeePersonalDataOf(const Caller& caller, int64_t user_id) {
  return caller.privileged || caller.is_user(user_id);
}

absl::Status InvalidToken() {
  return absl::UnauthenticatedError("invalid or expired access token");
}

absl::Status TokenRevoked() { return absl::UnauthenticatedError("access token revoked"); }

}  // namespace microblog
