// Service identity (issue #23 §3): user-service at TRANSPORT_SECURITY=mtls
// with the policy deploy/ ships (deploy/k8s/base/authz/user-service.json,
// copied so that the test can edit it on disk), and callers whose client
// certificates carry SPIFFE ids: post-service's, a stranger's, the
// operator's admin identity. Real binary, real PostgreSQL.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "e2e/both_services_fixture.h"
#include "support/eventually.h"
#include "support/http_get.h"
#include "support/read_file.h"
#include "support/test_certificates.h"

namespace microblog {
namespace test_support {
namespace {

using microblog::user::v1::UserService;
using namespace std::chrono_literals;

constexpr char kPostService[] = "spiffe://microblog/ns/microblog/sa/post-service";
constexpr char kStranger[] = "spiffe://microblog/ns/microblog/sa/stranger";
constexpr char kAdmin[] = "spiffe://microblog/ns/microblog/sa/microblog-admin";

class ServiceIdentityTest : public BothServicesTest {
 protected:
  void SetUp() override {
    certs_.AddClient("post-service", kPostService);
    certs_.AddClient("stranger", kStranger);
    certs_.AddClient("admin", kAdmin);
    policy_ = certs_.Path("policy.json");
    std::filesystem::copy_file(
        std::string(MICROBLOG_SOURCE_DIR) + "/deploy/k8s/base/authz/user-service.json", policy_);
    user_db_ = PrepareUserDatabase(pg());
  }

  EnvVars MutualTlsEnv() {
    EnvVars env = UserServiceEnv();
    address_ = "127.0.0.1:" + std::to_string(FreeTcpPort());
    env["LISTEN_ADDRESS"] = address_;
    env["TRANSPORT_SECURITY"] = "mtls";
    env["TLS_CERT_FILE"] = certs_.Path("server.crt");
    env["TLS_KEY_FILE"] = certs_.Path("server.key");
    env["TLS_CLIENT_CA_FILE"] = certs_.Path("ca.crt");
    env["AUTHZ_POLICY_FILE"] = policy_;
    metrics_ = "127.0.0.1:" + std::to_string(FreeTcpPort());
    env["METRICS_ADDRESS"] = metrics_;
    return env;
  }

  void Start() {
    users_process_ =
        std::make_unique<ChildProcess>(kUserServiceBin, std::vector<std::string>{}, MutualTlsEnv());
    ASSERT_TRUE(WaitUntilServing(address_, kWaitTimeout, As("post-service")))
        << users_process_->ReadOutput();
  }

  std::shared_ptr<grpc::ChannelCredentials> As(const std::string& client) const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = certs_.Read("ca.crt");
    options.pem_cert_chain = certs_.Read(client + ".crt");
    options.pem_private_key = certs_.Read(client + ".key");
    return grpc::SslCredentials(options);
  }

  std::unique_ptr<UserService::Stub> StubAs(const std::string& client) const {
    return UserService::NewStub(grpc::CreateChannel(address_, As(client)));
  }

  static grpc::Status BatchGet(UserService::Stub& stub, int64_t id) {
    microblog::user::v1::BatchGetUsersRequest request;
    request.add_ids(id);
    microblog::user::v1::BatchGetUsersResponse response;
    return stub.BatchGetUsers(NewContext().get(), request, &response);
  }

  // The value of `series` on user-service's /metrics; -1 when absent.
  double Metric(const std::string& series) const {
    const std::string page = HttpGet(metrics_, "/metrics").body;
    const std::size_t at = page.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(page.substr(at + series.size() + 2));
  }
  double Denied() const { return Metric("microblog_authorization_denied_total"); }

  TestCertificates certs_;
  std::string policy_;
  std::string address_;
  std::string metrics_;
  std::unique_ptr<ChildProcess> users_process_;
};

// Only post-service may read in batches (and the feed); every caller with
// a certificate may use the public methods; a refusal is PERMISSION_DENIED
// and counted.
TEST_F(ServiceIdentityTest, OnlyPostServiceMayCallBatchGetUsersAndDenialsAreCounted) {
  Start();
  user_stub_ = StubAs("post-service");
  const int64_t ada = CreateUser("ada");
  auto post_service = StubAs("post-service");
  auto stranger = StubAs("stranger");
  EXPECT_TRUE(BatchGet(*post_service, ada).ok());
  const grpc::Status denied = BatchGet(*stranger, ada);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << denied.error_message();
  EXPECT_EQ(denied.error_message(),
            "the authorization policy does not allow "
            "/microblog.user.v1.UserService/BatchGetUsers to this caller");
  microblog::user::v1::ListUserEventsRequest feed;
  microblog::user::v1::ListUserEventsResponse events;
  EXPECT_EQ(stranger->ListUserEvents(NewContext().get(), feed, &events).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Public: GetUser, to anyone with a certificate.
  microblog::user::v1::GetUserRequest get;
  get.set_id(ada);
  microblog::user::v1::GetUserResponse got;
  EXPECT_TRUE(stranger->GetUser(NewContext().get(), get, &got).ok());
  EXPECT_EQ(got.user().email(), "");  // not privileged, no token: no email
  EXPECT_EQ(Denied(), 2);
  // No certificate, or plaintext: no connection at all.
  grpc::SslCredentialsOptions no_cert;
  no_cert.pem_root_certs = certs_.Read("ca.crt");
  for (const auto& credentials :
       {grpc::SslCredentials(no_cert), grpc::InsecureChannelCredentials()}) {
    auto anonymous = UserService::NewStub(grpc::CreateChannel(address_, credentials));
    EXPECT_EQ(anonymous->GetUser(NewContext().get(), get, &got).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
}

// The operator's admin identity, named in the policy's privileged rule,
// acts for any user and sees personal data, without any user's token.
TEST_F(ServiceIdentityTest, APrivilegedPrincipalActsForAnyUserAndSeesEmails) {
  Start();
  user_stub_ = StubAs("post-service");
  const int64_t ada = CreateUser("ada");
  auto admin = StubAs("admin");
  microblog::user::v1::GetUserRequest get;
  get.set_id(ada);
  microblog::user::v1::GetUserResponse got;
  ASSERT_TRUE(admin->GetUser(NewContext().get(), get, &got).ok());
  EXPECT_EQ(got.user().email(), "ada@example.com");
  microblog::user::v1::UpdateUserRequest update;
  update.set_id(ada);
  update.set_email("ada@new.example");
  update.mutable_update_mask()->add_paths("email");
  microblog::user::v1::UpdateUserResponse updated;
  const grpc::Status as_admin = admin->UpdateUser(NewContext().get(), update, &updated);
  EXPECT_TRUE(as_admin.ok()) << as_admin.error_message();
  // The same change from a non-privileged identity needs ada's token.
  auto stranger = StubAs("stranger");
  EXPECT_EQ(stranger->UpdateUser(NewContext().get(), update, &updated).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(BatchGet(*admin, ada).ok());
}

// The policy file edited on disk takes effect within seconds, without a
// restart; a file that no longer parses leaves the last good policy.
TEST_F(ServiceIdentityTest, APolicyEditedOnDiskTakesEffectWithoutARestart) {
  Start();
  user_stub_ = StubAs("post-service");
  const int64_t ada = CreateUser("ada");
  auto stranger = StubAs("stranger");
  ASSERT_EQ(BatchGet(*stranger, ada).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  std::string policy = ReadFile(policy_);
  const std::string anchor = "\"spiffe://microblog/ns/microblog/sa/post-service-reconcile\"";
  ASSERT_NE(policy.find(anchor), std::string::npos);
  policy.replace(policy.find(anchor), anchor.size(),
                 anchor + ", \"" + std::string(kStranger) + "\"");
  const std::string edited = policy_ + ".new";
  std::ofstream(edited) << policy;
  std::filesystem::rename(edited, policy_);  // as a ConfigMap update swaps files
  EXPECT_TRUE(Eventually([&] { return BatchGet(*stranger, ada).ok(); }, 10s));

  std::ofstream(edited) << "{ not json";
  std::filesystem::rename(edited, policy_);
  EXPECT_TRUE(Eventually(
      [&] {
        return Metric("microblog_authorization_policy_reloads_total{outcome=\"error\"}") == 1;
      },
      10s));
  EXPECT_TRUE(BatchGet(*stranger, ada).ok());              // the previous policy stays
  EXPECT_EQ(users_process_->WaitExit(0ms), std::nullopt);  // still running
}

// mtls is the default, and a deployment that forgets its policy does not
// start; the local stack's insecure mode is named and warned about.
TEST_F(ServiceIdentityTest, MutualTlsWithoutAPolicyDoesNotStartAndInsecureWarns) {
  EnvVars env = MutualTlsEnv();
  env.erase("AUTHZ_POLICY_FILE");
  env.erase("TRANSPORT_SECURITY");  // the default: mtls
  RunResult refused = RunToCompletion(kUserServiceBin, {}, env, kWaitTimeout);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("TRANSPORT_SECURITY=mtls needs AUTHZ_POLICY_FILE"),
            std::string::npos)
      << refused.output;

  EnvVars insecure = UserServiceEnv();
  insecure["LISTEN_ADDRESS"] = "127.0.0.1:" + std::to_string(FreeTcpPort());
  insecure["METRICS_ADDRESS"] = "";
  ChildProcess plain(kUserServiceBin, {}, insecure);
  ASSERT_TRUE(WaitUntilServing(insecure["LISTEN_ADDRESS"], kWaitTimeout)) << plain.ReadOutput();
  EXPECT_NE(plain.ReadOutput().find("TRANSPORT_SECURITY=insecure: plaintext"), std::string::npos)
      << plain.ReadOutput();
}

// The exec probe of the manifests: `user-service probe` with the service's
// own environment speaks mTLS to it as `localhost` and exits 0 while it
// serves, 1 once it is gone.
TEST_F(ServiceIdentityTest, TheProbeSubcommandChecksHealthOverMutualTls) {
  Start();
  const std::string running = address_;
  EnvVars env = MutualTlsEnv();  // picks new ports: the probe is told the running one's
  env["LISTEN_ADDRESS"] = running;
  RunResult ready = RunToCompletion(kUserServiceBin, {"probe"}, env, kWaitTimeout);
  EXPECT_EQ(ready.exit_code, 0) << ready.output;
  RunResult live =
      RunToCompletion(kUserServiceBin, {"probe", "--service=liveness"}, env, kWaitTimeout);
  EXPECT_EQ(live.exit_code, 0) << live.output;
  users_process_.reset();
  RunResult gone = RunToCompletion(kUserServiceBin, {"probe"}, env, kWaitTimeout);
  EXPECT_EQ(gone.exit_code, 1) << gone.output;
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
