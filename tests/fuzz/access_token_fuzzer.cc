// Fuzz target: access tokens (common/auth/access_token.h) and the
// `authorization` metadata they come in (common/rpc/bearer_token.h), which
// any client may send. Nothing crashes; only a token this fuzzer's key
// signed verifies, and then its claims are what the verifier promises.
//
// The key and the clock are fixed (the test key below is public and used
// nowhere else), so that the seed corpus's valid token stays valid:
// corpus/access_token/valid was signed with this key at iat 1800000000.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/auth/access_token.h"
#include "common/rpc/bearer_token.h"
#include "fuzz_support.h"

namespace {

constexpr char kJwks[] =
    R"({"keys":[{"kid":"6vz-ZxycYRIODjLJQHYFKMRBBc93qmgTKYmLnlWpsnk","kty":"OKP",)"
    R"("crv":"Ed25519","x":"nnKJSAVLKlQzAzN_ATmdlzHmOeMbbkGQi5hjr5tEd8o","alg":"EdDSA",)"
    R"("use":"sig"}]})";

const microblog::KeySet& Keys() {
  static const std::shared_ptr<const microblog::KeySet> keys = [] {
    absl::StatusOr<std::shared_ptr<const microblog::KeySet>> parsed =
        microblog::KeySet::FromJwks(kJwks);
    FUZZ_CHECK(parsed.ok());
    return *parsed;
  }();
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // As metadata: at most one token, never empty.
  const std::vector<std::string_view> values = {text};
  absl::StatusOr<std::optional<std::string_view>> bearer = microblog::BearerTokenOf(values);
  std::string_view token = text;
  if (bearer.ok()) {
    FUZZ_CHECK(bearer->has_value() && !(*bearer)->empty());
    token = **bearer;
  } else {
    FUZZ_CHECK(bearer.status().code() == absl::StatusCode::kUnauthenticated);
  }
  // As a token, at the fixed time the seed token is valid.
  const microblog::Clock::time_point now{std::chrono::seconds(1800000100)};
  std::string reason;
  absl::StatusOr<microblog::TokenClaims> claims =
      Keys().Verify(token, microblog::TokenSettings{}, now, &reason);
  if (!claims.ok()) {
    FUZZ_CHECK(claims.status().code() == absl::StatusCode::kUnauthenticated);
    FUZZ_CHECK(claims.status().message() == "invalid or expired access token");
    FUZZ_CHECK(!reason.empty());
    return 0;
  }
  FUZZ_CHECK(claims->user_id > 0 && claims->credentials_version > 0);
  FUZZ_CHECK(claims->expires_at > 1800000100 - 30 && claims->issued_at <= 1800000100 + 30);
  return 0;
}
