#include "user-service/user_store.h"

#include <vector>

namespace microblog {
namespace user {

std::vector<absl::StatusOr<UserRecord>> UserStore::GetByLogins(const std::vector<Login>& logins,
                                                               const ReadFrom& /*from*/,
                                                               Clock::time_point deadline) {
  std::vector<absl::StatusOr<UserRecord>> found;
  found.reserve(logins.size());
  for (const Login& login : logins) {
    found.push_back(login.field == LoginField::kEmail ? GetByEmail(login.value, deadline)
                                                      : GetByUsername(login.value, deadline));
  }
  return found;
}

}  // namespace user
}  // namespace microblog
