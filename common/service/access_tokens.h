// The access-token configuration both services share (common/auth/): where
// the published key set is, which issuer and audience tokens must name and,
// for user-service, the signing key and the tokens' lifetime.
//
//   std::vector<ConfigOption> options = TokenVerifierOptions();  // + TokenSignerOptions()
//   ... ParseServiceConfig(service, options, argc, argv) ...
//   absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier =
//       OpenTokenVerifier(config, &metrics);
//
// Options:
//   TOKEN_JWKS_FILE         required: the public key set (JWKS, RFC 7517),
//                           reloaded when it changes (key rotation)
//   TOKEN_ISSUER            "microblog": the iss tokens are issued with and
//                           must carry
//   TOKEN_AUDIENCE          "microblog": the aud, likewise
//   TOKEN_SIGNING_KEY_FILE  user-service, required: the Ed25519 private key
//                           (PKCS#8 PEM) VerifyPassword signs with; its
//                           public half must be in TOKEN_JWKS_FILE
//   TOKEN_LIFETIME_SECONDS  user-service: 900 (60-86400)
#ifndef MICROBLOG_COMMON_SERVICE_ACCESS_TOKENS_H_
#define MICROBLOG_COMMON_SERVICE_ACCESS_TOKENS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/auth/access_token.h"
#include "common/auth/token_verifier.h"
#include "common/base/metrics.h"
#include "common/service/config.h"

namespace microblog {

std::vector<ConfigOption> TokenVerifierOptions();
std::vector<ConfigOption> TokenSignerOptions();

// TOKEN_ISSUER, TOKEN_AUDIENCE and (when it is an option of `config`)
// TOKEN_LIFETIME_SECONDS.
absl::StatusOr<TokenSettings> ReadTokenSettings(const Config& config);

// The verifier of TOKEN_JWKS_FILE; INVALID_ARGUMENT naming the setting when
// it is unset or its file holds no usable key.
absl::StatusOr<std::unique_ptr<TokenVerifier>> OpenTokenVerifier(const Config& config,
                                                                 Registry* metrics);

// The signer of TOKEN_SIGNING_KEY_FILE; INVALID_ARGUMENT when it is unset or
// not an Ed25519 key, or when `verifier`'s key set lacks its public half
// (tokens it signed would be refused everywhere).
absl::StatusOr<std::unique_ptr<TokenSigner>> OpenTokenSigner(const Config& config,
                                                             const TokenVerifier& verifier);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_SERVICE_ACCESS_TOKENS_H_
