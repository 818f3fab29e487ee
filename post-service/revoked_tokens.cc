#include "post-service/revoked_tokens.h"

#include <algorithm>

namespace microblog {
namespace post {

void RevokedTokens::Add(const std::vector<CredentialsRevocation>& revocations) {
  absl::MutexLock lock(&mu_);
  for (const CredentialsRevocation& r : revocations) {
    int64_t& known = min_version_[r.user_id];
    known = std::max(known, r.min_version);
  }
}

bool RevokedTokens::IsRevoked(const Caller& caller) const {
  if (!caller.has_token()) return false;
  absl::ReaderMutexLock lock(&mu_);
  const auto it = min_version_.find(caller.user_id);
  return it != min_version_.end() && caller.credentials_version < it->second;
}

}  // namespace post
}  // namespace microblog
