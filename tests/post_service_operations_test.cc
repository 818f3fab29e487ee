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

#include "post_service_fixture.h"
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
TEST_F(PostServiceTest, SigtermLetsCallsInFlightFinishThenExitsZero) {
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

TEST_F(PostServiceTest, DatabaseRestartUnderLoadIsUnavailableThenRecovers) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  Post kept;
  ASSERT_TRUE(CreatePost(alice, "survives restarts", "", &kept).ok());

  // Readers and writers keep calling through the outage. Two writers, so
  // that inserts also go in batches (one transaction for several posts).
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<grpc::StatusCode, int> codes;  // guarded by mu
  std::vector<int64_t> acknowledged;      // ids of posts whose CreatePost said OK; guarded by mu
  std::vector<std::thread> load;
  for (int worker = 0; worker < 4; ++worker) {
    load.emplace_back([&, worker] {
      auto stub = PostService::NewStub(posts_->NewChannel());
      for (int i = 0; !stop; ++i) {
        grpc::Status status;
        if (worker == 0 || worker == 2) {
          Post created;
          status = CreatePost(alice, "load", "", &created, stub.get());
          if (status.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            acknowledged.push_back(created.id());
          }
        } else if (worker == 1) {
          ListPostsRequest request;
          ListPostsResponse response;
          status = stub->ListPosts(NewContext(10s).get(), request, &response);
        } else {
          GetPostRequest request;
          request.set_id(kept.id());
          GetPostResponse response;
          status = stub->GetPost(NewContext(10s).get(), request, &response);
        }
        std::lock_guard<std::mutex> lock(mu);
        ++codes[status.error_code()];
      }
    });
  }
  std::this_thread::sleep_for(300ms);

  pg().Stop();
  EXPECT_TRUE(posts_->WaitForHealth(HealthStatus::NOT_SERVING, kWaitTimeout));
  EXPECT_EQ(posts_->CheckHealth(kCallTimeout, "microblog.post.v1.PostService"),
            std::optional(HealthStatus::NOT_SERVING));
  EXPECT_EQ(posts_->CheckHealth(kCallTimeout, "liveness"), std::optional(HealthStatus::SERVING));
  grpc::Status status = GetPost(kept.id());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  ListPostsResponse page;
  status = ListPosts(0, 0, "", &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  std::this_thread::sleep_for(300ms);

  pg().Restart();
  EXPECT_TRUE(posts_->WaitForHealth(HealthStatus::SERVING, kWaitTimeout));
  Post read;
  status = GetPost(kept.id(), &read);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // Writes recover too (user-service's database was down as well).
  EXPECT_TRUE(Eventually([&] {
    status = CreatePost(alice, "after the restart");
    return status.ok();
  })) << status.error_message();
  std::this_thread::sleep_for(300ms);

  stop = true;
  for (std::thread& thread : load) thread.join();
  // Through the outage, callers only ever saw success or a retryable
  // failure: never INTERNAL/UNKNOWN, never a hang.
  for (const auto& [code, count] : codes) {
    EXPECT_TRUE(code == grpc::StatusCode::OK || code == grpc::StatusCode::UNAVAILABLE ||
                code == grpc::StatusCode::DEADLINE_EXCEEDED)
        << "code " << code << " seen " << count << " times";
  }
  EXPECT_GT(codes[grpc::StatusCode::OK], 0);
  EXPECT_GT(codes[grpc::StatusCode::UNAVAILABLE], 0);
  // Nothing acknowledged is lost: every post a CreatePost answered OK for
  // is in the database after the restart.
  ASSERT_FALSE(acknowledged.empty());
  std::string ids;
  for (int64_t id : acknowledged) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  EXPECT_EQ(CountPosts("id IN (" + ids + ")"), static_cast<int64_t>(acknowledged.size()));
  EXPECT_TRUE(posts_->Running()) << posts_->output();
}

// --- Configuration ---------------------------------------------------------------

TEST_F(PostServiceTest, RefusesToStartWithHalfAClientCertificate) {
  TestCertificates certs;
  post_db_ = PreparePostDatabase(pg());
  RunResult result =
      RunToCompletion(kPostServiceBin, {},
                      {{"POST_DATABASE_URL", post_db_.service_url},
                       {"LISTEN_ADDRESS", "127.0.0.1:" + std::to_string(FreeTcpPort())},
                       {"USER_SERVICE_TLS_CERT_FILE", certs.Path("client.crt")}},
                      kCallTimeout);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("USER_SERVICE_TLS_KEY_FILE"), std::string::npos) << result.output;
}

TEST(PostServiceConfigTest, MissingDatabaseUrlIsAClearStartupError) {
  auto result = RunToCompletion(kPostServiceBin, {}, {{"POST_DATABASE_URL", ""}});
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
