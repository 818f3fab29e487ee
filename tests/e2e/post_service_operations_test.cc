// End-to-end tests of running post-service: graceful shutdown, its database
// restarting under load, and its configuration.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "e2e/both_services_fixture.h"
#include "support/child_process.h"
#include "support/eventually.h"
#include "support/test_certificates.h"

namespace microblog {
namespace test_support {
namespace {

using namespace std::chrono_literals;

// --- Shutdown --------------------------------------------------------------------

// Calls in progress at SIGTERM (here: waiting for a slow author check, then
// queued for their insert) are all finished and stored before the process
// exits 0: what was acknowledged is stored, what was accepted is answered.
TEST_F(BothServicesTest, SigtermLetsCallsInFlightFinishThenExitsZero) {
  FakeUserServer fake;
  fake.service().set_delay(1500ms);
  StartPostService(fake.address(), {{"SHUTDOWN_GRACE_MS", "30000"}});
  constexpr int kCalls = 12;
  std::vector<grpc::Status> results(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      results[i] = CreatePost(FakeUserService::kKnownUser, "in flight " + std::to_string(i));
    });
  }
  // Every call has reached the server (the author check is under way).
  ASSERT_TRUE(Eventually([&] { return fake.service().calls() >= 1; }));
  std::this_thread::sleep_for(200ms);
  posts_->Signal(SIGTERM);
  for (std::thread& thread : threads) thread.join();
  for (const grpc::Status& status : results) EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(CountPosts(), kCalls);
  EXPECT_EQ(posts_->WaitExit(60s), std::optional<int>(0)) << posts_->output();
}

// --- post-service's database restarting under load -------------------------------

TEST_F(BothServicesTest, DatabaseRestartUnderLoadIsUnavailableThenRecovers) {
  StartServices();
  ExpectDatabaseRestartUnderLoadIsUnavailableThenRecovers();
}

// --- Configuration ---------------------------------------------------------------

TEST_F(BothServicesTest, RefusesToStartWithHalfAClientCertificate) {
  TestCertificates certs;
  post_db_ = PreparePostDatabase(pg());
  RunResult result =
      RunToCompletion(kPostServiceBin, {},
                      {{"POST_DATABASE_URL", post_db_.service_url},
                       {"LISTEN_ADDRESS", "127.0.0.1:" + std::to_string(FreeTcpPort())},
                       {"TRANSPORT_SECURITY", "insecure"},
                       {"USER_SERVICE_TLS_CERT_FILE", certs.Path("client.crt")}},
                      kCallTimeout);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("USER_SERVICE_TLS_KEY_FILE"), std::string::npos) << result.output;
}

// In mtls every connection is mutual TLS, post-service's own to
// user-service too: without its client certificate it does not start.
TEST_F(BothServicesTest, MutualTlsRefusesToStartWithAPlaintextChannelToUserService) {
  TestCertificates certs;
  post_db_ = PreparePostDatabase(pg());
  RunResult result =
      RunToCompletion(kPostServiceBin, {},
                      {{"POST_DATABASE_URL", post_db_.service_url},
                       {"LISTEN_ADDRESS", "127.0.0.1:" + std::to_string(FreeTcpPort())},
                       {"TRANSPORT_SECURITY", "mtls"},
                       {"TLS_CERT_FILE", certs.Path("server.crt")},
                       {"TLS_KEY_FILE", certs.Path("server.key")},
                       {"TLS_CLIENT_CA_FILE", certs.Path("ca.crt")},
                       {"AUTHZ_POLICY_FILE", certs.Path("policy.json")}},
                      kCallTimeout);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("TRANSPORT_SECURITY=mtls needs USER_SERVICE_TLS_CA_FILE"),
            std::string::npos)
      << result.output;
}

TEST(PostServiceConfigTest, MissingDatabaseUrlIsAClearStartupError) {
  auto result = RunToCompletion(kPostServiceBin, {},
                                {{"POST_DATABASE_URL", ""}, {"TRANSPORT_SECURITY", "insecure"}});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("POST_DATABASE_URL"), std::string::npos) << result.output;
}

TEST(PostServiceConfigTest, HelpListsEveryOptionWithDefaults) {
  auto result = RunToCompletion(kPostServiceBin, {"--help"});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  for (const std::string option :
       {"POST_DATABASE_URL", "USER_SERVICE_ADDR", "localhost:50051", "USER_SERVICE_TIMEOUT_MS",
        "USER_SERVICE_TLS_CA_FILE", "USER_SERVICE_TLS_CERT_FILE", "USER_SERVICE_TLS_KEY_FILE",
        "LISTEN_ADDRESS", "0.0.0.0:50052", "DB_POOL_SIZE", "MAX_DEADLINE_MS", "SHUTDOWN_GRACE_MS",
        "--user-service-addr"}) {
    EXPECT_NE(result.output.find(option), std::string::npos) << option << "\n" << result.output;
  }
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
