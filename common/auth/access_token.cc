#include "common/auth/access_token.h"

#include <jansson.h>
#include <rhonabwy.h>

#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace microblog {
namespace {

constexpr char kAlg[] = "EdDSA";

// Owners of the library's objects.
struct JwkFree {
  void operator()(jwk_t* k) const { r_jwk_free(k); }
};
struct JwksFree {
  void operator()(jwks_t* k) const { r_jwks_free(k); }
};
struct JwtFree {
  void operator()(jwt_t* t) const { r_jwt_free(t); }
};
struct RFree {
  void operator()(char* s) const { r_free(s); }
};
struct JsonFree {
  void operator()(json_t* j) const { json_decref(j); }
};
using Jwk = std::unique_ptr<jwk_t, JwkFree>;
using Jwks = std::unique_ptr<jwks_t, JwksFree>;
using Jwt = std::unique_ptr<jwt_t, JwtFree>;
using RString = std::unique_ptr<char, RFree>;
using Json = std::unique_ptr<json_t, JsonFree>;

Jwk NewJwk() {
  jwk_t* k = nullptr;
  if (r_jwk_init(&k) != RHN_OK) return nullptr;
  return Jwk(k);
}

// Whether `key` is an Ed25519 key with the `wanted` half (R_KEY_TYPE_PUBLIC
// or R_KEY_TYPE_PRIVATE).
bool IsEd25519(jwk_t* key, int wanted) {
  unsigned int bits = 0;
  const int type = r_jwk_key_type(key, &bits, R_FLAG_IGNORE_REMOTE);
  const char* crv = r_jwk_get_property_str(key, "crv");
  return (type & R_KEY_TYPE_EDDSA) && (type & wanted) && crv != nullptr &&
         std::strcmp(crv, "Ed25519") == 0;
}

// The integer claim `name` of `claims`, if it is one.
bool IntClaim(json_t* claims, const char* name, int64_t* out) {
  json_t* value = json_object_get(claims, name);
  if (!json_is_integer(value)) return false;
  *out = json_integer_value(value);
  return true;
}

bool StringClaimIs(json_t* claims, const char* name, const std::string& expected) {
  const char* value = json_string_value(json_object_get(claims, name));
  return value != nullptr && expected == value;
}

// RFC 7519 §4.1.3: aud is a string or an array of strings.
bool AudienceHas(json_t* claims, const std::string& audience) {
  json_t* aud = json_object_get(claims, "aud");
  if (json_is_string(aud)) return audience == json_string_value(aud);
  if (!json_is_array(aud)) return false;
  size_t i;
  json_t* each;
  json_array_foreach(aud, i, each) {
    if (json_is_string(each) && audience == json_string_value(each)) return true;
  }
  return false;
}

absl::Status Refuse(std::string* reason, std::string_view why) {
  if (reason != nullptr) *reason = std::string(why);
  return InvalidToken();
}

}  // namespace

int64_t UnixSeconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// --- TokenSigner ---------------------------------------------------------

struct TokenSigner::Keys {
  Jwk private_key;
};

TokenSigner::TokenSigner(std::unique_ptr<Keys> keys, TokenSettings settings, std::string kid,
                         std::string public_jwks)
    : keys_(std::move(keys)),
      settings_(std::move(settings)),
      kid_(std::move(kid)),
      public_jwks_(std::move(public_jwks)) {}

TokenSigner::~TokenSigner() = default;

absl::StatusOr<std::unique_ptr<TokenSigner>> TokenSigner::FromPem(std::string_view pem,
                                                                  TokenSettings settings) {
  const absl::Status not_a_key = absl::InvalidArgumentError(
      "the token signing key is not an Ed25519 private key in PKCS#8 PEM "
      "(openssl genpkey -algorithm ed25519)");
  Jwk private_key = NewJwk();
  Jwk public_key = NewJwk();
  if (!private_key || !public_key) return absl::InternalError("out of memory");
  if (r_jwk_import_from_pem_der(private_key.get(), R_X509_TYPE_PRIVKEY, R_FORMAT_PEM,
                                reinterpret_cast<const unsigned char*>(pem.data()),
                                pem.size()) != RHN_OK ||
      !IsEd25519(private_key.get(), R_KEY_TYPE_PRIVATE) ||
      r_jwk_extract_pubkey(private_key.get(), public_key.get(), R_FLAG_IGNORE_REMOTE) != RHN_OK) {
    return not_a_key;
  }
  RString thumbprint(r_jwk_thumbprint(public_key.get(), R_JWK_THUMB_SHA256, R_FLAG_IGNORE_REMOTE));
  if (!thumbprint) return not_a_key;
  const std::string kid = thumbprint.get();
  Jwks set;
  {
    jwks_t* s = nullptr;
    if (r_jwks_init(&s) != RHN_OK) return absl::InternalError("out of memory");
    set.reset(s);
  }
  if (r_jwk_set_property_str(private_key.get(), "kid", kid.c_str()) != RHN_OK ||
      r_jwk_set_property_str(public_key.get(), "kid", kid.c_str()) != RHN_OK ||
      r_jwk_set_property_str(public_key.get(), "alg", kAlg) != RHN_OK ||
      r_jwk_set_property_str(public_key.get(), "use", "sig") != RHN_OK ||
      r_jwks_append_jwk(set.get(), public_key.get()) != RHN_OK) {
    return absl::InternalError("could not build the public key set");
  }
  RString jwks(r_jwks_export_to_json_str(set.get(), 0));
  if (!jwks) return absl::InternalError("could not export the public key set");
  auto keys = std::make_unique<Keys>();
  keys->private_key = std::move(private_key);
  return std::unique_ptr<TokenSigner>(
      new TokenSigner(std::move(keys), std::move(settings), kid, jwks.get()));
}

absl::StatusOr<IssuedToken> TokenSigner::Issue(int64_t user_id, int64_t credentials_version,
                                               Clock::time_point now) const {
  const int64_t iat = UnixSeconds(now);
  const int64_t exp = iat + settings_.lifetime.count();
  jwt_t* raw = nullptr;
  if (r_jwt_init(&raw) != RHN_OK) return absl::InternalError("out of memory");
  Jwt jwt(raw);
  const std::string sub = absl::StrCat(user_id);
  if (r_jwt_set_sign_alg(jwt.get(), R_JWA_ALG_EDDSA) != RHN_OK ||
      r_jwt_set_header_str_value(jwt.get(), "typ", "JWT") != RHN_OK ||
      r_jwt_set_header_str_value(jwt.get(), "kid", kid_.c_str()) != RHN_OK ||
      r_jwt_set_claim_str_value(jwt.get(), "iss", settings_.issuer.c_str()) != RHN_OK ||
      r_jwt_set_claim_str_value(jwt.get(), "aud", settings_.audience.c_str()) != RHN_OK ||
      r_jwt_set_claim_str_value(jwt.get(), "sub", sub.c_str()) != RHN_OK ||
      r_jwt_set_claim_int_value(jwt.get(), "iat", iat) != RHN_OK ||
      r_jwt_set_claim_int_value(jwt.get(), "exp", exp) != RHN_OK ||
      r_jwt_set_claim_int_value(jwt.get(), "ver", credentials_version) != RHN_OK) {
    return absl::InternalError("could not build the access token");
  }
  RString token;
  {
    absl::MutexLock lock(&mu_);
    token.reset(r_jwt_serialize_signed(jwt.get(), keys_->private_key.get(), R_FLAG_IGNORE_REMOTE));
  }
  if (!token) return absl::InternalError("could not sign the access token");
  return IssuedToken{token.get(), Clock::time_point(std::chrono::seconds(exp))};
}

// --- KeySet --------------------------------------------------------------

struct KeySet::Keys {
  std::map<std::string, Jwk, std::less<>> by_kid;
};

KeySet::KeySet(std::unique_ptr<Keys> keys) : keys_(std::move(keys)) {}
KeySet::~KeySet() = default;

absl::StatusOr<std::shared_ptr<const KeySet>> KeySet::FromJwks(std::string_view json) {
  json_error_t error;
  Json document(json_loadb(json.data(), json.size(), JSON_REJECT_DUPLICATES, &error));
  json_t* list = json_object_get(document.get(), "keys");
  if (!json_is_array(list)) {
    return absl::InvalidArgumentError("the key set is not a JWKS document ({\"keys\": [...]})");
  }
  auto keys = std::make_unique<Keys>();
  size_t i;
  json_t* each;
  json_array_foreach(list, i, each) {
    Jwk key = NewJwk();
    if (!key) return absl::InternalError("out of memory");
    if (r_jwk_import_from_json_t(key.get(), each) != RHN_OK) continue;
    if (!IsEd25519(key.get(), R_KEY_TYPE_PUBLIC)) continue;
    const char* use = r_jwk_get_property_str(key.get(), "use");
    if (use != nullptr && std::strcmp(use, "sig") != 0) continue;
    const char* alg = r_jwk_get_property_str(key.get(), "alg");
    if (alg != nullptr && std::strcmp(alg, kAlg) != 0) continue;
    const char* kid = r_jwk_get_property_str(key.get(), "kid");
    if (kid == nullptr || *kid == '\0') {
      return absl::InvalidArgumentError(
          absl::StrCat("key ", i, " of the key set has no kid: tokens could not name it"));
    }
    keys->by_kid[kid] = std::move(key);
  }
  if (keys->by_kid.empty()) {
    return absl::InvalidArgumentError("the key set holds no Ed25519 signature key");
  }
  return std::shared_ptr<const KeySet>(new KeySet(std::move(keys)));
}

std::vector<std::string> KeySet::kids() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> kids;
  for (const auto& [kid, key] : keys_->by_kid) kids.push_back(kid);
  return kids;
}

absl::StatusOr<TokenClaims> KeySet::Verify(std::string_view token, const TokenSettings& settings,
                                           Clock::time_point now, std::string* reason) const {
  if (token.empty() || token.size() > kMaxTokenBytes) return Refuse(reason, "size");
  // Three base64url parts and nothing else: refuses JWE (five parts) and
  // bytes the library would have to make sense of.
  int dots = 0;
  for (const char c : token) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return Refuse(reason, "characters");
    }
  }
  if (dots != 2) return Refuse(reason, "not a JWS compact serialization");
  jwt_t* raw = nullptr;
  if (r_jwt_init(&raw) != RHN_OK) return absl::InternalError("out of memory");
  Jwt jwt(raw);
  // R_PARSE_NONE: no key from the token's own headers (jwk, jku, x5c, x5u)
  // and no unsigned token; nothing is fetched.
  if (r_jwt_advanced_parsen(jwt.get(), token.data(), token.size(), R_PARSE_NONE,
                            R_FLAG_IGNORE_REMOTE) != RHN_OK) {
    return Refuse(reason, "malformed");
  }
  if (r_jwt_get_type(jwt.get()) != R_JWT_TYPE_SIGN) return Refuse(reason, "not signed");
  const char* alg = r_jwt_get_header_str_value(jwt.get(), "alg");
  if (alg == nullptr || std::strcmp(alg, kAlg) != 0 ||
      r_jwt_get_sign_alg(jwt.get()) != R_JWA_ALG_EDDSA) {
    return Refuse(reason, "algorithm");
  }
  const char* kid = r_jwt_get_header_str_value(jwt.get(), "kid");
  if (kid == nullptr) return Refuse(reason, "no kid");
  {
    absl::MutexLock lock(&mu_);
    const auto key = keys_->by_kid.find(std::string_view(kid));
    if (key == keys_->by_kid.end()) return Refuse(reason, "unknown kid");
    if (r_jwt_verify_signature(jwt.get(), key->second.get(), R_FLAG_IGNORE_REMOTE) != RHN_OK) {
      return Refuse(reason, "signature");
    }
  }
  RString claims_text(r_jwt_get_full_claims_str(jwt.get()));
  if (!claims_text) return Refuse(reason, "claims");
  json_error_t error;
  Json claims(json_loads(claims_text.get(), JSON_REJECT_DUPLICATES, &error));
  if (!json_is_object(claims.get())) return Refuse(reason, "claims");
  TokenClaims out;
  const char* sub = json_string_value(json_object_get(claims.get(), "sub"));
  if (sub == nullptr || !absl::SimpleAtoi(sub, &out.user_id) || out.user_id <= 0 ||
      absl::StrCat(out.user_id) != sub) {
    return Refuse(reason, "sub");
  }
  if (!StringClaimIs(claims.get(), "iss", settings.issuer)) return Refuse(reason, "iss");
  if (!AudienceHas(claims.get(), settings.audience)) return Refuse(reason, "aud");
  if (!IntClaim(claims.get(), "ver", &out.credentials_version) || out.credentials_version <= 0) {
    return Refuse(reason, "ver");
  }
  if (!IntClaim(claims.get(), "exp", &out.expires_at) ||
      !IntClaim(claims.get(), "iat", &out.issued_at)) {
    return Refuse(reason, "exp or iat");
  }
  const int64_t t = UnixSeconds(now);
  const int64_t leeway = settings.leeway.count();
  // Compared against `t` moved, never the claims: they are attacker-chosen
  // integers, which could overflow.
  if (out.expires_at <= t - leeway) return Refuse(reason, "expired");
  if (out.issued_at > t + leeway) return Refuse(reason, "issued in the future");
  if (json_object_get(claims.get(), "nbf") != nullptr) {
    int64_t nbf = 0;
    if (!IntClaim(claims.get(), "nbf", &nbf) || nbf > t + leeway) {
      return Refuse(reason, "not yet valid");
    }
  }
  return out;
}

}  // namespace microblog
