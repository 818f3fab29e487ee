// The README's grpcurl session, end to end: both real services on a real
// PostgreSQL, driven by tests/grpcurl/grpcurl.py, an independent client that
// (like grpcurl) knows no .proto file and learns every type through server
// reflection. This is what a newcomer pasting the README's commands gets.
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/service_process.h"
#include "support/shared_cluster.h"

namespace microblog::test_support {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// grpcurl's exit status for a failed call: 64 + the gRPC code.
constexpr int kExitPermissionDenied = 64 + 7;
constexpr int kExitUnauthenticated = 64 + 16;

class GrpcurlFlowTest : public ::testing::Test {
 protected:
  // Both services for the whole suite, on databases of the binary's shared
  // cluster.
  static void SetUpTestSuite() {
    user_db_ = PrepareUserDatabase(SharedCluster());
    post_db_ = PreparePostDatabase(SharedCluster());
    users_ = std::make_unique<ServiceProcess>(USER_SERVICE_BIN,
                                              EnvVars{{"USER_DATABASE_URL", user_db_.service_url}});
    posts_ = std::make_unique<ServiceProcess>(POST_SERVICE_BIN,
                                              EnvVars{{"POST_DATABASE_URL", post_db_.service_url},
                                                      {"USER_SERVICE_ADDR", users_->address()}});
  }
  static void TearDownTestSuite() {
    posts_.reset();
    users_.reset();
  }

  void SetUp() override { ASSERT_NE(posts_, nullptr) << "the services did not start"; }

  // grpcurl.py -plaintext [-H "authorization: Bearer TOKEN"] [-d JSON] ADDRESS ARGS...
  static RunResult Grpcurl(const ServiceProcess& service, const std::vector<std::string>& args,
                           const std::string& data = "", const std::string& token = "") {
    std::vector<std::string> argv = {GRPCURL_SCRIPT, "-plaintext"};
    if (!token.empty()) argv.insert(argv.end(), {"-H", "authorization: Bearer " + token});
    if (!data.empty()) argv.insert(argv.end(), {"-d", data});
    argv.push_back(service.address());
    argv.insert(argv.end(), args.begin(), args.end());
    return RunToCompletion("/usr/bin/python3", argv);
  }

  // The access token in VerifyPassword's JSON output.
  static std::string TokenIn(const std::string& output) {
    std::smatch match;
    if (!std::regex_search(output, match, std::regex(R"re("accessToken":\s*"([^"]+)")re"))) {
      return "";
    }
    return match[1];
  }

  // The "id" of the first object in grpcurl's JSON output (int64 is a string).
  static std::string IdIn(const std::string& output) {
    std::smatch match;
    if (!std::regex_search(output, match, std::regex(R"re("id":\s*"(\d+)")re"))) return "";
    return match[1];
  }

  inline static MigratedDatabase user_db_;
  inline static MigratedDatabase post_db_;
  inline static std::unique_ptr<ServiceProcess> users_;
  inline static std::unique_ptr<ServiceProcess> posts_;
};

TEST_F(GrpcurlFlowTest, ListsAndDescribesEveryServiceHealthIncluded) {
  RunResult list = Grpcurl(*users_, {"list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("microblog.user.v1.UserService"));
  EXPECT_THAT(list.output, HasSubstr("grpc.health.v1.Health"));
  EXPECT_THAT(list.output, HasSubstr("grpc.reflection.v1alpha.ServerReflection"));

  for (ServiceProcess* service : {users_.get(), posts_.get()}) {
    RunResult health = Grpcurl(*service, {"describe", "grpc.health.v1.Health"});
    ASSERT_EQ(health.exit_code, 0) << health.output;
    EXPECT_THAT(health.output, HasSubstr("rpc Check"));
    EXPECT_THAT(health.output, HasSubstr("rpc Watch"));
    RunResult check = Grpcurl(*service, {"grpc.health.v1.Health/Check"});
    ASSERT_EQ(check.exit_code, 0) << check.output;
    EXPECT_THAT(check.output, HasSubstr("SERVING"));
  }

  RunResult post = Grpcurl(*posts_, {"describe", "microblog.post.v1.PostService"});
  ASSERT_EQ(post.exit_code, 0) << post.output;
  EXPECT_THAT(post.output, HasSubstr("rpc CreatePost"));
  EXPECT_THAT(post.output, HasSubstr("rpc ListPosts"));
}

TEST_F(GrpcurlFlowTest, TheReadmeSession) {
  // Create a user, read it back three ways, check its password.
  RunResult created = Grpcurl(
      *users_, {"microblog.user.v1.UserService/CreateUser"},
      R"({"username": "ada", "email": "ada@example.com", "password": "correct horse battery"})");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const std::string id = IdIn(created.output);
  ASSERT_FALSE(id.empty()) << created.output;

  RunResult got =
      Grpcurl(*users_, {"microblog.user.v1.UserService/GetUser"}, R"({"id": ")" + id + R"("})");
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_THAT(got.output, HasSubstr("\"ada\""));
  EXPECT_THAT(got.output, Not(HasSubstr("ada@example.com"))) << "e-mail: its owner only";
  RunResult looked_up =
      Grpcurl(*users_, {"microblog.user.v1.UserService/LookupUser"}, R"({"username": "ADA"})");
  ASSERT_EQ(looked_up.exit_code, 0) << looked_up.output;
  EXPECT_EQ(IdIn(looked_up.output), id);
  RunResult listed =
      Grpcurl(*users_, {"microblog.user.v1.UserService/ListUsers"}, R"({"page_size": 10})");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("\"ada\""));

  // Log in: the access token acts for ada.
  RunResult verified =
      Grpcurl(*users_, {"microblog.user.v1.UserService/VerifyPassword"},
              R"({"login": "ada@example.com", "password": "correct horse battery"})");
  ASSERT_EQ(verified.exit_code, 0) << verified.output;
  const std::string token = TokenIn(verified.output);
  ASSERT_FALSE(token.empty()) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("accessTokenExpireTime"));
  RunResult refused = Grpcurl(*users_, {"microblog.user.v1.UserService/VerifyPassword"},
                              R"({"login": "ada", "password": "wrong password"})");
  EXPECT_EQ(refused.exit_code, kExitUnauthenticated) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("Code: Unauthenticated"));
  RunResult own = Grpcurl(*users_, {"microblog.user.v1.UserService/GetUser"},
                          R"({"id": ")" + id + R"("})", token);
  ASSERT_EQ(own.exit_code, 0) << own.output;
  EXPECT_THAT(own.output, HasSubstr("ada@example.com"));
  // Neither the passwords, their hashes nor the token ever reach the log.
  const std::string log = users_->output();
  EXPECT_THAT(log, HasSubstr("/microblog.user.v1.UserService/VerifyPassword"));
  EXPECT_THAT(log, Not(HasSubstr("correct horse battery")));
  EXPECT_THAT(log, Not(HasSubstr("wrong password")));
  EXPECT_THAT(log, Not(HasSubstr("$argon2id$")));
  EXPECT_THAT(log, Not(HasSubstr(token)));

  // Post as that user (with its token), list the user's posts.
  RunResult anonymous = Grpcurl(*posts_, {"microblog.post.v1.PostService/CreatePost"},
                                R"({"user_id": ")" + id + R"(", "body": "Hello, microblog!"})");
  EXPECT_EQ(anonymous.exit_code, kExitUnauthenticated) << anonymous.output;
  RunResult posted = Grpcurl(*posts_, {"microblog.post.v1.PostService/CreatePost"},
                             R"({"user_id": ")" + id + R"(", "body": "Hello, microblog!"})", token);
  ASSERT_EQ(posted.exit_code, 0) << posted.output;
  RunResult posts = Grpcurl(*posts_, {"microblog.post.v1.PostService/ListPosts"},
                            R"({"user_id": ")" + id + R"("})");
  ASSERT_EQ(posts.exit_code, 0) << posts.output;
  EXPECT_THAT(posts.output, HasSubstr("Hello, microblog!"));

  // A post for someone else: PERMISSION_DENIED.
  RunResult impostor = Grpcurl(*posts_, {"microblog.post.v1.PostService/CreatePost"},
                               R"({"user_id": "999999999", "body": "nobody wrote this"})", token);
  EXPECT_EQ(impostor.exit_code, kExitPermissionDenied) << impostor.output;
  EXPECT_THAT(impostor.output, HasSubstr("Code: PermissionDenied"));
}

TEST_F(GrpcurlFlowTest, BadInputShowsFieldViolations) {
  RunResult bad =
      Grpcurl(*users_, {"microblog.user.v1.UserService/CreateUser"},
              R"({"username": "no spaces allowed", "email": "nope", "password": "short"})");
  EXPECT_EQ(bad.exit_code, 64 + 3) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("Code: InvalidArgument"));
  EXPECT_THAT(bad.output, HasSubstr("google.rpc.BadRequest"));
  for (const char* field : {"username", "email", "password"}) {
    EXPECT_THAT(bad.output, HasSubstr(field));
  }
}

}  // namespace
}  // namespace microblog::test_support
