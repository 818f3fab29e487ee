// Who may do what, through both real services on real PostgreSQL (issue
// 23): every change only with its owner's access token, every bad token
// refused alike, keys rotated without a failed call, tokens revoked by a
// password change or a deletion. The rules: docs/operations.md, "Access
// tokens"; the logic's side: tests/unit (UserAccountsTest, PostsTest).
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gnutls/crypto.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "e2e/both_services_fixture.h"
#include "support/eventually.h"
#include "support/test_tokens.h"

namespace microblog {
namespace test_support {
namespace {

namespace user_v1 = ::microblog::user::v1;
namespace post_v1 = ::microblog::post::v1;
using namespace std::chrono_literals;

constexpr char kInvalidToken[] = "invalid or expired access token";

std::string B64(const std::string& bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);
  return out;
}

std::string FromB64(const std::string& text) {
  std::string out;
  absl::WebSafeBase64Unescape(text, &out);
  return out;
}

// A compact JWS with `header` and `payload` (JSON) and `signature` bytes.
std::string Jws(const std::string& header, const std::string& payload,
                const std::string& signature) {
  return B64(header) + "." + B64(payload) + "." + B64(signature);
}

void WriteFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp, std::ios::trunc) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);  // atomic, as a ConfigMap swap
}

class AccessTokenTest : public BothServicesTest {
 protected:
  // A context carrying `token` as `authorization: Bearer` (none if empty).
  static std::unique_ptr<grpc::ClientContext> ContextWith(const std::string& token) {
    std::unique_ptr<grpc::ClientContext> context = NewContext();
    if (!token.empty()) AddBearer(*context, token);
    return context;
  }

  grpc::Status CreatePostWith(const std::string& token, int64_t user_id,
                              const std::string& body = "hello") {
    post_v1::CreatePostRequest request;
    request.set_user_id(user_id);
    request.set_body(body);
    post_v1::CreatePostResponse response;
    auto context = ContextWith(token);
    return stub_->CreatePost(context.get(), request, &response);
  }
  grpc::Status DeletePostWith(const std::string& token, int64_t id) {
    post_v1::DeletePostRequest request;
    request.set_id(id);
    post_v1::DeletePostResponse response;
    auto context = ContextWith(token);
    return stub_->DeletePost(context.get(), request, &response);
  }
  grpc::Status UpdateWith(const std::string& token, int64_t id, const std::string& path,
                          const std::string& value, user_v1::User* user = nullptr) {
    user_v1::UpdateUserRequest request;
    request.set_id(id);
    if (path == "password") request.set_password(value);
    if (path == "email") request.set_email(value);
    if (path == "username") request.set_username(value);
    request.mutable_update_mask()->add_paths(path);
    user_v1::UpdateUserResponse response;
    auto context = ContextWith(token);
    grpc::Status status = user_stub_->UpdateUser(context.get(), request, &response);
    if (user != nullptr) *user = response.user();
    return status;
  }
  grpc::Status DeleteUserWith(const std::string& token, int64_t id) {
    user_v1::DeleteUserRequest request;
    request.set_id(id);
    user_v1::DeleteUserResponse response;
    auto context = ContextWith(token);
    return user_stub_->DeleteUser(context.get(), request, &response);
  }
  // VerifyPassword's answer: its token (empty when refused).
  std::string LogIn(const std::string& login, const std::string& password) {
    user_v1::VerifyPasswordRequest request;
    request.set_login(login);
    request.set_password(password);
    user_v1::VerifyPasswordResponse response;
    const grpc::Status status = user_stub_->VerifyPassword(NewContext().get(), request, &response);
    return status.ok() ? response.access_token() : "";
  }
  user_v1::User GetUserWith(const std::string& token, int64_t id, grpc::Status* status) {
    user_v1::GetUserRequest request;
    request.set_id(id);
    user_v1::GetUserResponse response;
    auto context = ContextWith(token);
    *status = user_stub_->GetUser(context.get(), request, &response);
    return response.user();
  }
};

// The table of issue 23: each row refused without the owner's token, and
// allowed with it.
TEST_F(AccessTokenTest, EveryChangeNeedsItsOwnersToken) {
  StartServices();
  const int64_t ada = CreateUser("ada");
  const int64_t eve = CreateUser("eve");
  const std::string eve_token = LogIn("eve", "correct horse battery staple");
  ASSERT_FALSE(eve_token.empty());
  const std::string ada_token = LogIn("ada@example.com", "correct horse battery staple");
  ASSERT_FALSE(ada_token.empty());

  // UpdateUser of another user's password and e-mail.
  EXPECT_EQ(UpdateWith("", ada, "password", "eve was here").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(UpdateWith(eve_token, ada, "password", "eve was here").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(UpdateWith(eve_token, ada, "email", "eve@evil.example").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(LogIn("ada", "eve was here").empty());
  EXPECT_FALSE(LogIn("ada", "correct horse battery staple").empty());
  // CreatePost in another user's name.
  EXPECT_EQ(CreatePostWith("", ada).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CreatePostWith(eve_token, ada).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CountPosts(), 0);
  // DeletePost of another user's post; DeleteUser of another user.
  Post post;
  ASSERT_TRUE(CreatePost(ada, "ada's own", "", &post).ok());
  EXPECT_EQ(DeletePostWith("", post.id()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(DeletePostWith(eve_token, post.id()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(DeleteUserWith("", ada).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(DeleteUserWith(eve_token, ada).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CountPosts(), 1);
  // ListUsers: nobody's e-mail address but the caller's own.
  user_v1::ListUsersRequest list;
  user_v1::ListUsersResponse listed;
  auto as_eve = NewContext();
  as_eve->AddMetadata("authorization", "Bearer " + eve_token);
  ASSERT_TRUE(user_stub_->ListUsers(as_eve.get(), list, &listed).ok());
  ASSERT_EQ(listed.users_size(), 2);
  EXPECT_EQ(listed.users(0).email(), "");
  EXPECT_EQ(listed.users(1).email(), "eve@example.com");

  // The owner's token does each of them.
  user_v1::User updated;
  ASSERT_TRUE(UpdateWith(ada_token, ada, "email", "ada@new.example", &updated).ok());
  EXPECT_EQ(updated.email(), "ada@new.example");
  ASSERT_TRUE(CreatePostWith(ada_token, ada).ok());
  ASSERT_TRUE(DeletePostWith(ada_token, post.id()).ok());
  ASSERT_TRUE(UpdateWith(ada_token, ada, "password", "a new passphrase").ok());
  EXPECT_FALSE(LogIn("ada", "a new passphrase").empty());
  ASSERT_TRUE(DeleteUserWith(eve_token, eve).ok());
}

// RFC 8725's list, and the rest: each refused alike, on a change and on a
// read, by both services.
TEST_F(AccessTokenTest, EveryBadTokenIsRefusedWithTheSameMessage) {
  StartServices();
  const int64_t ada = CreateUser("ada");
  const std::string good = TestToken(ada);
  const std::vector<std::string> parts = absl::StrSplit(good, '.');
  ASSERT_EQ(parts.size(), 3u);
  const std::string header = FromB64(parts[0]);
  const std::string payload = FromB64(parts[1]);
  TestKey stranger = NewTestKey();

  // HS256 keyed with the public key (the JWKS document, and its raw x).
  std::string hs256_header = header;
  hs256_header.replace(hs256_header.find("EdDSA"), 5, "HS256");
  const std::string signing_input = B64(hs256_header) + "." + parts[1];
  std::string mac(32, '\0');
  const std::string& jwks = DefaultTestKey().jwks;
  gnutls_hmac_fast(GNUTLS_MAC_SHA256, jwks.data(), jwks.size(), signing_input.data(),
                   signing_input.size(), mac.data());
  std::string tampered_payload = payload;
  tampered_payload.replace(tampered_payload.find("\"sub\":\""), 7, "\"sub\":\"1");

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"expired", TestToken(ada, 1, nullptr, 3600s)},
      {"issued in the future", TestToken(ada, 1, nullptr, -3600s)},
      {"another key", TestToken(ada, 1, &stranger)},
      {"tampered payload", parts[0] + "." + B64(tampered_payload) + "." + parts[2]},
      {"tampered signature", parts[0] + "." + parts[1] + "." + B64(std::string(64, 'x'))},
      {"alg none", Jws(R"({"alg":"none","typ":"JWT"})", payload, "")},
      {"alg none, no signature part", B64(R"({"alg":"none"})") + "." + parts[1] + "."},
      {"HS256 with the public key", signing_input + "." + B64(mac)},
      {"malformed", "not-a-token"},
      {"two parts", parts[0] + "." + parts[1]},
      {"five parts (JWE)", good + ".a.b"},
      {"not base64url", "!!!.@@@.###"},
      {"too long", std::string(5000, 'a')},
  };
  for (const auto& [what, token] : bad) {
    SCOPED_TRACE(what);
    const grpc::Status created = CreatePostWith(token, ada);
    EXPECT_EQ(created.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(created.error_message(), kInvalidToken);
    const grpc::Status updated = UpdateWith(token, ada, "username", "ada2");
    EXPECT_EQ(updated.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(updated.error_message(), kInvalidToken);
    grpc::Status read;
    GetUserWith(token, ada, &read);
    EXPECT_EQ(read.error_code(), grpc::StatusCode::UNAUTHENTICATED) << "a bad token is refused "
                                                                       "even where none is needed";
  }
  // Not "Bearer <token>": refused too.
  for (const std::string& value :
       std::vector<std::string>{"Basic YWRhOnB3", "Bearer", "Bearer    ", good}) {
    post_v1::GetPostRequest request;
    request.set_id(1);
    post_v1::GetPostResponse response;
    auto context = NewContext();
    context->AddMetadata("authorization", value);
    EXPECT_EQ(stub_->GetPost(context.get(), request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << value;
  }
  EXPECT_EQ(CountPosts(), 0);
  // The good one works, and the logs never hold a token.
  EXPECT_TRUE(CreatePostWith(good, ada).ok());
  EXPECT_EQ(users_->output().find(good), std::string::npos);
  EXPECT_EQ(posts_->output().find(good), std::string::npos);
}

TEST_F(AccessTokenTest, KeysRotateWithoutFailingAValidToken) {
  TestKey next = NewTestKey();
  const std::string jwks_file = next.jwks_file + ".rotating";
  // Start: the default key only (the services sign with it).
  WriteFile(jwks_file, DefaultTestKey().jwks);
  StartServices({{"TOKEN_JWKS_FILE", jwks_file}}, {{"TOKEN_JWKS_FILE", jwks_file}});
  const int64_t ada = CreateUser("ada");
  const std::string old_token = TestToken(ada);
  const std::string new_token = TestToken(ada, 1, &next);
  ASSERT_TRUE(CreatePostWith(old_token, ada).ok());
  EXPECT_EQ(CreatePostWith(new_token, ada).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // 1. Publish the new key beside the old one: both verify, on both services.
  const std::string old_key = DefaultTestKey().jwks.substr(9, DefaultTestKey().jwks.size() - 11);
  const std::string new_key = next.jwks.substr(9, next.jwks.size() - 11);
  WriteFile(jwks_file, "{\"keys\":[" + old_key + "," + new_key + "]}");
  EXPECT_TRUE(Eventually([&] { return CreatePostWith(new_token, ada).ok(); }, 10s));
  EXPECT_TRUE(Eventually([&] { return UpdateWith(new_token, ada, "username", "ada2").ok(); }, 10s));
  EXPECT_TRUE(CreatePostWith(old_token, ada).ok());
  // A broken file changes nothing.
  WriteFile(jwks_file, "{not json");
  std::this_thread::sleep_for(2500ms);
  EXPECT_TRUE(CreatePostWith(old_token, ada).ok());
  EXPECT_TRUE(CreatePostWith(new_token, ada).ok());
  // 3. Retire the old key: its tokens stop verifying, the new ones go on.
  WriteFile(jwks_file, next.jwks);
  EXPECT_TRUE(Eventually(
      [&] {
        return CreatePostWith(old_token, ada).error_code() == grpc::StatusCode::UNAUTHENTICATED;
      },
      10s));
  EXPECT_TRUE(CreatePostWith(new_token, ada).ok());
}

TEST_F(AccessTokenTest, APasswordChangeRevokesOlderTokensEverywhere) {
  StartServices();
  const int64_t ada = CreateUser("ada");
  const std::string before = LogIn("ada", "correct horse battery staple");
  ASSERT_FALSE(before.empty());
  ASSERT_TRUE(CreatePostWith(before, ada).ok());
  Post post;
  ASSERT_TRUE(CreatePost(ada, "to delete later", "", &post).ok());

  ASSERT_TRUE(UpdateWith(before, ada, "password", "a brand new one").ok());
  // user-service: at once.
  const grpc::Status stale = UpdateWith(before, ada, "username", "ada2");
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stale.error_message(), "access token revoked");
  grpc::Status read;
  GetUserWith(before, ada, &read);
  EXPECT_EQ(read.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // post-service: once the feed's event reached it (1 s refresh on top).
  EXPECT_TRUE(Eventually(
      [&] { return CreatePostWith(before, ada).error_code() == grpc::StatusCode::UNAUTHENTICATED; },
      10s));
  EXPECT_EQ(DeletePostWith(before, post.id()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The new password's token works on both.
  const std::string after = LogIn("ada", "a brand new one");
  ASSERT_FALSE(after.empty());
  EXPECT_TRUE(CreatePostWith(after, ada).ok());
  EXPECT_TRUE(DeletePostWith(after, post.id()).ok());
  // And a post-service restarted later still knows (the table, not memory).
  posts_.reset();
  posts_ = LaunchPostService();
  stub_ = PostService::NewStub(posts_->NewChannel());
  EXPECT_EQ(CreatePostWith(before, ada).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(CreatePostWith(after, ada).ok());
}

TEST_F(AccessTokenTest, ADeletedUsersTokensAreRefusedAtOnce) {
  StartServices();
  const int64_t ada = CreateUser("ada");
  const std::string token = LogIn("ada", "correct horse battery staple");
  ASSERT_FALSE(token.empty());
  Post post;
  ASSERT_TRUE(CreatePost(ada, "soon gone", "", &post).ok());
  ASSERT_TRUE(DeleteUserWith(token, ada).ok());
  for (const grpc::Status& status : {UpdateWith(token, ada, "username", "ghost"),
                                     DeleteUserWith(token, ada), CreatePostWith(token, ada)}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message(), "access token revoked");
  }
  // post-service, once the cascade's tombstone is there: the deleted user's
  // own post went with it (NOT_FOUND), and its token deletes nothing else.
  const int64_t bea = CreateUser("bea");
  Post beas;
  ASSERT_TRUE(CreatePost(bea, "bea stays", "", &beas).ok());
  ASSERT_TRUE(Eventually([&] {
    return QueryPosts("SELECT 1 FROM user_tombstones WHERE user_id = " + std::to_string(ada))
               .size() == 1;
  }));
  EXPECT_EQ(DeletePostWith(token, post.id()).error_code(), grpc::StatusCode::NOT_FOUND);
  const grpc::Status other = DeletePostWith(token, beas.id());
  EXPECT_EQ(other.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(other.error_message(), "access token revoked");
  EXPECT_TRUE(GetPost(beas.id()).ok());
}

// user-service refuses to start with a signing key whose public half is not
// in the key set (every token it signed would be refused), and
// `user-service jwks KEY_FILE` prints the key set an operator publishes.
TEST_F(AccessTokenTest, TheSigningKeyMustBeInTheKeySetAndJwksPrintsIt) {
  const TestKey other = NewTestKey();
  RunResult printed = RunToCompletion(kUserServiceBin, {"jwks", other.private_key_file});
  ASSERT_EQ(printed.exit_code, 0) << printed.output;
  EXPECT_EQ(printed.output, other.jwks + "\n");

  user_db_ = PrepareUserDatabase(pg());
  EnvVars env = UserServiceEnv();
  env["TOKEN_JWKS_FILE"] = other.jwks_file;  // not the default signing key's
  env["LISTEN_ADDRESS"] = "127.0.0.1:" + std::to_string(FreeTcpPort());
  ChildProcess refused(kUserServiceBin, {}, env);
  const std::optional<int> code = refused.WaitExit(kCallTimeout);
  ASSERT_TRUE(code.has_value()) << "started anyway";
  EXPECT_EQ(*code, 2);
  EXPECT_NE(refused.ReadOutput().find("is not in TOKEN_JWKS_FILE"), std::string::npos)
      << refused.ReadOutput();
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
