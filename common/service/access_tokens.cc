#include "common/service/access_tokens.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace microblog {

std::vector<ConfigOption> TokenVerifierOptions() {
  return {
      {"TOKEN_JWKS_FILE", "",
       "Required. The public keys access tokens are verified with (a JWKS file, RFC 7517; "
       "re-read when it changes, for key rotation)."},
      {"TOKEN_ISSUER", "microblog", "The iss claim access tokens carry."},
      {"TOKEN_AUDIENCE", "microblog", "The aud claim access tokens carry."},
  };
}

std::vector<ConfigOption> TokenSignerOptions() {
  return {
      {"TOKEN_SIGNING_KEY_FILE", "",
       "Required. The Ed25519 private key (PKCS#8 PEM: openssl genpkey -algorithm ed25519) "
       "that signs VerifyPassword's access tokens; its public key must be in TOKEN_JWKS_FILE "
       "(user-service jwks KEY_FILE prints it as a JWKS)."},
      {"TOKEN_LIFETIME_SECONDS", "900", "How long an access token is valid (60-86400)."},
  };
}

absl::StatusOr<TokenSettings> ReadTokenSettings(const Config& config) {
  TokenSettings settings;
  settings.issuer = config.GetString("TOKEN_ISSUER");
  settings.audience = config.GetString("TOKEN_AUDIENCE");
  if (settings.issuer.empty() || settings.audience.empty()) {
    return absl::InvalidArgumentError("TOKEN_ISSUER and TOKEN_AUDIENCE must not be empty");
  }
  if (config.Has("TOKEN_LIFETIME_SECONDS")) {
    absl::StatusOr<int64_t> lifetime = config.GetInt("TOKEN_LIFETIME_SECONDS", 60, 86400);
    if (!lifetime.ok()) return lifetime.status();
    settings.lifetime = std::chrono::seconds(*lifetime);
  }
  return settings;
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> OpenTokenVerifier(const Config& config,
                                                                 Registry* metrics) {
  const std::string& path = config.GetString("TOKEN_JWKS_FILE");
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "TOKEN_JWKS_FILE is required: the key set access tokens are verified with");
  }
  absl::StatusOr<TokenSettings> settings = ReadTokenSettings(config);
  if (!settings.ok()) return settings.status();
  absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier =
      TokenVerifier::Open(path, *std::move(settings), metrics);
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TOKEN_JWKS_FILE: ", verifier.status().message()));
  }
  return verifier;
}

absl::StatusOr<std::unique_ptr<TokenSigner>> OpenTokenSigner(const Config& config,
                                                             const TokenVerifier& verifier) {
  const std::string& path = config.GetString("TOKEN_SIGNING_KEY_FILE");
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "TOKEN_SIGNING_KEY_FILE is required: the key access tokens are signed with");
  }
  absl::StatusOr<std::string> pem = ReadSettingFile(path, "TOKEN_SIGNING_KEY_FILE");
  if (!pem.ok()) return pem.status();
  absl::StatusOr<TokenSettings> settings = ReadTokenSettings(config);
  if (!settings.ok()) return settings.status();
  absl::StatusOr<std::unique_ptr<TokenSigner>> signer =
      TokenSigner::FromPem(*pem, *std::move(settings));
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TOKEN_SIGNING_KEY_FILE: ", signer.status().message()));
  }
  const std::vector<std::string> kids = verifier.kids();
  if (std::find(kids.begin(), kids.end(), (*signer)->kid()) == kids.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TOKEN_SIGNING_KEY_FILE's public key (kid ", (*signer)->kid(),
                     ") is not in TOKEN_JWKS_FILE: every token it signed would be refused"));
  }
  return signer;
}

}  // namespace microblog
