#include "support/test_tokens.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

namespace microblog {
namespace test_support {
namespace {

std::string NewEd25519Pem() {
  gnutls_x509_privkey_t key;
  if (gnutls_x509_privkey_init(&key) != 0) throw std::runtime_error("gnutls_x509_privkey_init");
  if (gnutls_x509_privkey_generate(key, GNUTLS_PK_EDDSA_ED25519, 0, 0) != 0) {
    gnutls_x509_privkey_deinit(key);
    throw std::runtime_error("gnutls_x509_privkey_generate");
  }
  std::string pem(4096, '\0');
  size_t size = pem.size();
  const int exported = gnutls_x509_privkey_export_pkcs8(key, GNUTLS_X509_FMT_PEM, nullptr,
                                                        GNUTLS_PKCS_PLAIN, pem.data(), &size);
  gnutls_x509_privkey_deinit(key);
  if (exported != 0) throw std::runtime_error("gnutls_x509_privkey_export_pkcs8");
  pem.resize(size);
  return pem;
}

const std::string& KeyDir() {
  static const std::string dir = [] {
    std::string pattern = "/tmp/microblog-test-keys-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    return pattern;
  }();
  return dir;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

TestKey NewTestKey(const TokenSettings& settings) {
  static std::atomic<int> counter{0};
  TestKey key;
  key.private_pem = NewEd25519Pem();
  absl::StatusOr<std::unique_ptr<TokenSigner>> signer =
      TokenSigner::FromPem(key.private_pem, settings);
  if (!signer.ok()) throw std::runtime_error(std::string(signer.status().message()));
  key.signer = *std::move(signer);
  key.jwks = key.signer->public_jwks();
  const std::string stem = KeyDir() + "/key" + std::to_string(counter++);
  key.private_key_file = stem + ".pem";
  key.jwks_file = stem + ".jwks.json";
  WriteFile(key.private_key_file, key.private_pem);
  WriteFile(key.jwks_file, key.jwks);
  return key;
}

const TestKey& DefaultTestKey() {
  static const TestKey* key = new TestKey(NewTestKey());
  return *key;
}

void AddDefaultTokenEnv(std::map<std::string, std::string>& env) {
  if (env.count("TOKEN_JWKS_FILE") == 0 && env.count("TOKEN_SIGNING_KEY_FILE") == 0) {
    env["TOKEN_JWKS_FILE"] = DefaultTestKey().jwks_file;
    env["TOKEN_SIGNING_KEY_FILE"] = DefaultTestKey().private_key_file;
  }
}

std::string TestToken(int64_t user_id, int64_t credentials_version, const TestKey* key,
                      std::chrono::seconds age) {
  const TestKey& signing = key != nullptr ? *key : DefaultTestKey();
  absl::StatusOr<IssuedToken> token =
      signing.signer->Issue(user_id, credentials_version, Clock::now() - age);
  if (!token.ok()) throw std::runtime_error(std::string(token.status().message()));
  return token->token;
}

void AddBearer(grpc::ClientContext& context, const std::string& token) {
  context.AddMetadata("authorization", "Bearer " + token);
}

}  // namespace test_support
}  // namespace microblog
