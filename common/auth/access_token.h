// End users' access tokens: JWTs (RFC 7519) signed with Ed25519 (JWS alg
// "EdDSA", RFC 8037), issued by user-service when a password checks out and
// verified by both services locally, against a published key set (JWKS,
// RFC 7517), with no call per request. Built on librhonabwy (Debian's
// librhonabwy-dev 1.1, over GnuTLS): of the JOSE libraries Debian ships it
// is the one with JWKS, EdDSA and a JWT layer (libjwt 1.10 has neither JWKS
// nor EdDSA, cpp-jwt no JWKS, libcjose no EdDSA, libjose no JWT claims).
//
//   // user-service, once: the private key (PKCS#8 PEM, `openssl genpkey
//   // -algorithm ed25519`)
//   absl::StatusOr<TokenSigner> signer = TokenSigner::FromPem(pem, settings);
//   absl::StatusOr<IssuedToken> token = signer->Issue(user_id, version, Clock::now());
//
//   // both services: the public key set, any number of keys by `kid`
//   absl::StatusOr<std::shared_ptr<const KeySet>> keys = KeySet::FromJwks(json);
//   absl::StatusOr<TokenClaims> claims = keys.value()->Verify(token, settings, now);
//
// A token's header is {"alg":"EdDSA","typ":"JWT","kid":<RFC 7638 SHA-256
// thumbprint of the signing key>}; its claims are iss, aud, sub (the user
// id, decimal), iat, exp and ver (the account's credentials version at
// issue: a password change raises it and so revokes older tokens).
//
// Verification follows RFC 8725 (JWT best current practices): the
// algorithm is pinned to EdDSA whatever the header says (so "none" and
// HS256-keyed-with-the-public-key fail), the key comes only from our key
// set by `kid` (never from the token's jwk/jku/x5u headers, never fetched),
// iss and aud must be ours, exp and iat are required, and times get a
// small leeway for clock skew. Every failure is the same UNAUTHENTICATED
// message, "invalid or expired access token"; the reason goes only to the
// service's log (Verify's `reason`).
//
// Thread-safety: TokenSigner and KeySet are immutable after construction
// and safe from any thread (each serializes its library calls internally).
#ifndef MICROBLOG_COMMON_AUTH_ACCESS_TOKEN_H_
#define MICROBLOG_COMMON_AUTH_ACCESS_TOKEN_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/base/caller.h"  // InvalidToken()
#include "common/base/clock.h"

namespace microblog {

// What a token must say to be ours, and for how long we issue it.
struct TokenSettings {
  std::string issuer = "microblog";
  std::string audience = "microblog";
  std::chrono::seconds lifetime{900};  // 15 min (TOKEN_LIFETIME_SECONDS)
  std::chrono::seconds leeway{30};     // accepted clock skew on exp and iat
};

// Longest token accepted: far above ours (~250 bytes), far below gRPC's
// metadata limit.
inline constexpr size_t kMaxTokenBytes = 4096;

// The claims of a verified token.
struct TokenClaims {
  int64_t user_id = 0;              // sub
  int64_t credentials_version = 0;  // ver
  int64_t issued_at = 0;            // iat, seconds since the Unix epoch
  int64_t expires_at = 0;           // exp, seconds since the Unix epoch
};

// A freshly signed token.
struct IssuedToken {
  std::string token;
  Clock::time_point expire_time;
};

// `t` in whole seconds since the Unix epoch (JWT's NumericDate).
int64_t UnixSeconds(Clock::time_point t);

class TokenSigner {
 public:
  // The signer of the Ed25519 private key in `pem` (PKCS#8). INVALID_ARGUMENT
  // when `pem` is not one.
  static absl::StatusOr<std::unique_ptr<TokenSigner>> FromPem(std::string_view pem,
                                                              TokenSettings settings);
  ~TokenSigner();
  TokenSigner(const TokenSigner&) = delete;
  TokenSigner& operator=(const TokenSigner&) = delete;

  // A token for `user_id` at `credentials_version`, issued at `now`,
  // expiring settings.lifetime later. INTERNAL if the library fails.
  absl::StatusOr<IssuedToken> Issue(int64_t user_id, int64_t credentials_version,
                                    Clock::time_point now) const;

  // The `kid` of this key (its RFC 7638 thumbprint).
  const std::string& kid() const { return kid_; }
  // The public half as a JWKS document with this one key ({"keys":[...]}),
  // what the verifiers' key set must contain.
  const std::string& public_jwks() const { return public_jwks_; }

 private:
  struct Keys;
  TokenSigner(std::unique_ptr<Keys> keys, TokenSettings settings, std::string kid,
              std::string public_jwks);

  mutable absl::Mutex mu_;
  const std::unique_ptr<Keys> keys_ ABSL_PT_GUARDED_BY(mu_);
  const TokenSettings settings_;
  const std::string kid_;
  const std::string public_jwks_;
};

// A set of public verification keys (JWKS), by kid.
class KeySet {
 public:
  // The Ed25519 signature keys of the JWKS `json` ({"keys":[...]}; keys of
  // other types or uses are ignored). INVALID_ARGUMENT when it does not
  // parse, holds no usable key, or a usable key has no kid.
  static absl::StatusOr<std::shared_ptr<const KeySet>> FromJwks(std::string_view json);
  ~KeySet();
  KeySet(const KeySet&) = delete;
  KeySet& operator=(const KeySet&) = delete;

  // The claims of `token` when it is ours and valid at `now`; else
  // InvalidToken(), with the reason (for the log, never the client) in
  // `reason` when it is not null.
  absl::StatusOr<TokenClaims> Verify(std::string_view token, const TokenSettings& settings,
                                     Clock::time_point now, std::string* reason = nullptr) const;

  std::vector<std::string> kids() const;

 private:
  struct Keys;
  explicit KeySet(std::unique_ptr<Keys> keys);

  mutable absl::Mutex mu_;  // the library's key objects are not documented thread-safe
  const std::unique_ptr<Keys> keys_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_AUTH_ACCESS_TOKEN_H_
