#include "bench/token_book.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "common/base/clock.h"

namespace microblog {
namespace bench {

absl::StatusOr<std::unique_ptr<TokenBook>> TokenBook::Open(const std::string& key_file) {
  std::ifstream in(key_file, std::ios::binary);
  if (!in) return absl::InvalidArgumentError("cannot read " + key_file);
  std::ostringstream pem;
  pem << in.rdbuf();
  TokenSettings settings;
  settings.lifetime = std::chrono::hours(24);  // outlives any run
  absl::StatusOr<std::unique_ptr<TokenSigner>> signer = TokenSigner::FromPem(pem.str(), settings);
  if (!signer.ok()) return signer.status();
  return std::unique_ptr<TokenBook>(new TokenBook(*std::move(signer)));
}

std::string TokenBook::TokenFor(int64_t user_id) {
  {
    absl::MutexLock lock(&mu_);
    const auto it = tokens_.find(user_id);
    if (it != tokens_.end()) return it->second;
  }
  absl::StatusOr<IssuedToken> token = signer_->Issue(user_id, 1, Clock::now());
  if (!token.ok()) return "";
  absl::MutexLock lock(&mu_);
  return tokens_.emplace(user_id, token->token).first->second;
}

}  // namespace bench
}  // namespace microblog
