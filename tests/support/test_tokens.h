// Access tokens for end-to-end tests. Every service a test starts through
// ServiceProcess gets, unless the test sets them, TOKEN_JWKS_FILE and
// TOKEN_SIGNING_KEY_FILE of one Ed25519 key pair made for the test binary
// (in a temporary directory, at first use), so a test can mint the token
// of any user instead of logging in (an Argon2id hash per login):
//
//   grpc::ClientContext context;
//   AddBearer(context, TestToken(user_id));  // as that user, credentials version 1
//   stub->CreatePost(&context, request, &response);
//
// Other keys (NewTestKey) make tokens the services must refuse, and key
// sets for rotation tests. Thread-safe.
#ifndef MICROBLOG_TESTS_SUPPORT_TEST_TOKENS_H_
#define MICROBLOG_TESTS_SUPPORT_TEST_TOKENS_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <grpcpp/client_context.h>

#include "common/auth/access_token.h"

namespace microblog {
namespace test_support {

// A key pair written to files.
struct TestKey {
  std::string private_pem;       // PKCS#8 PEM
  std::string private_key_file;  // holds private_pem
  std::string jwks;              // the public key set of this key alone
  std::string jwks_file;         // holds jwks
  std::unique_ptr<TokenSigner> signer;
};

// A new Ed25519 key, its files in the test binary's temporary directory.
TestKey NewTestKey(const TokenSettings& settings = {});

// The key every ServiceProcess gets by default.
const TestKey& DefaultTestKey();

// TOKEN_JWKS_FILE and TOKEN_SIGNING_KEY_FILE of DefaultTestKey(), added to
// `env` where it sets neither.
void AddDefaultTokenEnv(std::map<std::string, std::string>& env);

// A token for `user_id` at `credentials_version` signed with
// DefaultTestKey() (or `key`), issued `age` ago.
std::string TestToken(int64_t user_id, int64_t credentials_version = 1,
                      const TestKey* key = nullptr,
                      std::chrono::seconds age = std::chrono::seconds(0));

// Adds `authorization: Bearer <token>` to `context`.
void AddBearer(grpc::ClientContext& context, const std::string& token);

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_TEST_TOKENS_H_
