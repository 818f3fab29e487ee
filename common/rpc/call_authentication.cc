#include "common/rpc/call_authentication.h"

#include <optional>
#include <string_view>
#include <vector>

#include "common/rpc/bearer_token.h"

namespace microblog {

absl::StatusOr<Caller> AuthenticateCall(const grpc::ServerContextBase& context,
                                        const CallAuthentication& auth) {
  std::vector<std::string_view> values;
  const auto [begin, end] = context.client_metadata().equal_range("authorization");
  for (auto it = begin; it != end; ++it) {
    values.emplace_back(it->second.data(), it->second.size());
  }
  absl::StatusOr<std::optional<std::string_view>> token = BearerTokenOf(values);
  if (!token.ok()) return token.status();
  Caller caller;
  if (token->has_value()) {
    if (auth.tokens == nullptr) return InvalidToken();
    absl::StatusOr<Caller> user = auth.tokens->Authenticate(**token);
    if (!user.ok()) return user.status();
    caller = *user;
  }
  if (auth.policy != nullptr) {
    const std::shared_ptr<const grpc::AuthContext> peer = context.auth_context();
    caller.privileged = peer != nullptr && auth.policy->IsPrivileged(*peer);
  }
  return caller;
}

}  // namespace microblog
