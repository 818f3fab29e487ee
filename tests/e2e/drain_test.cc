// End-to-end tests of scaling both services: clients spreading over a
// replica added after they connected (MAX_CONNECTION_AGE_MS), and a replica
// leaving under load (SIGTERM: SHUTDOWN_DRAIN_DELAY_MS, then
// SHUTDOWN_GRACE_MS) without failing a single call.
//
// The replicas run as the real binaries on one port, each on its own
// loopback address (127.0.0.1, 127.0.0.2), behind FakeDns: one DNS name
// listing the replicas, as a Kubernetes headless Service does, which gRPC's
// own DNS resolver queries. Clients use round_robin, as post-service's
// channel to user-service does; replicas are told apart by their per-RPC
// log lines.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "e2e/both_services_fixture.h"
#include "support/child_process.h"
#include "support/dns_server.h"
#include "support/eventually.h"

namespace microblog {
namespace test_support {
namespace {

using namespace std::chrono_literals;

constexpr char kReplicaA[] = "127.0.0.1";
constexpr char kReplicaB[] = "127.0.0.2";
constexpr char kHost[] = "replicas.microblog.test";
constexpr int kInFlight = 32;

// What a careful client of ours configures: round_robin over every address,
// and, with `health_checked_service`, gRPC's client-side health checking of
// that service (post-service's channel to user-service does both). Re-
// resolution at most every 100 ms instead of gRPC's 30 s, so that tests
// need not wait for it.
std::shared_ptr<grpc::Channel> BalancedChannel(const std::string& target,
                                               const std::string& health_checked_service = "") {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 100);
  std::string config = R"("loadBalancingConfig": [{"round_robin": {}}])";
  if (!health_checked_service.empty()) {
    config += R"(, "healthCheckConfig": {"serviceName": ")" + health_checked_service + R"("})";
  }
  args.SetServiceConfigJSON("{" + config + "}");
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// How many calls of `method` a service's output shows (one per-RPC line per
// call: ServiceProcess logs them all).
int CallsIn(const std::string& output, const std::string& method) {
  const std::string needle = "\"method\":\"" + method + "\"";
  int count = 0;
  for (size_t at = output.find(needle); at != std::string::npos;
       at = output.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

// kInFlight threads, each making one call after another until Stop(); every
// status is counted.
class Load {
 public:
  explicit Load(std::function<grpc::Status()> call) : call_(std::move(call)) {
    for (int i = 0; i < kInFlight; ++i) {
      threads_.emplace_back([this] {
        while (!stop_) {
          const grpc::Status status = call_();
          std::lock_guard<std::mutex> lock(mu_);
          ++codes_[status.error_code()];
          if (!status.ok() && first_failures_.size() < 5) {
            first_failures_.push_back(
                absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())) +
                ": " + status.error_message());
          }
        }
      });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_ = true;
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }
  int ok() {
    std::lock_guard<std::mutex> lock(mu_);
    return codes_[grpc::StatusCode::OK];
  }
  // Every status code seen, with its count, and the first failures.
  std::string Report() {
    std::lock_guard<std::mutex> lock(mu_);
    std::ostringstream out;
    for (const auto& [code, count] : codes_) {
      out << absl::StatusCodeToString(static_cast<absl::StatusCode>(code)) << "=" << count << " ";
    }
    for (const std::string& failure : first_failures_) out << "\n  " << failure;
    return out.str();
  }
  int failed() {
    std::lock_guard<std::mutex> lock(mu_);
    int total = 0;
    for (const auto& [code, count] : codes_) {
      if (code != grpc::StatusCode::OK) total += count;
    }
    return total;
  }

 private:
  std::function<grpc::Status()> call_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<grpc::StatusCode, int> codes_;    // guarded by mu_
  std::vector<std::string> first_failures_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

class ScalingTest : public BothServicesTest {
 protected:
  // A replica of `binary` on `host`:port_ with `env`.
  std::unique_ptr<ServiceProcess> Replica(const char* binary, const std::string& host,
                                          EnvVars env) {
    env["LISTEN_ADDRESS"] = host + ":" + std::to_string(port_);
    return std::make_unique<ServiceProcess>(binary, env);
  }
  // Drain settings of the replicas under test: a short drain, in which
  // health-checking clients move; a grace every call fits in.
  static EnvVars Draining(EnvVars env) {
    env["SHUTDOWN_DRAIN_DELAY_MS"] = "2000";
    env["SHUTDOWN_GRACE_MS"] = "10000";
    return env;
  }
  // SIGTERM to `replica` under `load`, which must keep going through the
  // drain and after the exit: the replica exits 0 within drain + grace
  // (plus a generous margin for a loaded machine), and the survivor
  // `other` serves calls of `method` afterwards.
  void TerminateUnderLoad(ServiceProcess& replica, ServiceProcess& other, const std::string& method,
                          Load& load) {
    replica.Signal(SIGTERM);
    // As Kubernetes does for a terminating pod: out of the DNS answer.
    dns_.SetAddresses({kReplicaB});
    EXPECT_EQ(replica.WaitExit(3s + 10s + kWaitTimeout), std::optional<int>(0)) << replica.output();
    const int served_after_exit = CallsIn(other.output(), method);
    EXPECT_TRUE(Eventually([&] {
      return CallsIn(other.output(), method) >= served_after_exit + 100;
    })) << load.Report();
    load.Stop();
    EXPECT_EQ(load.failed(), 0) << load.Report();
    EXPECT_GT(load.ok(), 0) << load.Report();
    // The replica served calls during its drain delay: between "shutting
    // down" and "stopping" it still answered.
    const std::string out = replica.output();
    const size_t draining = out.find("\"msg\":\"shutting down\"");
    const size_t stopping = out.find("\"msg\":\"stopping\"");
    ASSERT_NE(draining, std::string::npos) << out;
    ASSERT_NE(stopping, std::string::npos) << out;
    std::cout << "[ load ] " << load.Report() << "; " << method
              << " calls logged by the replica while draining: "
              << CallsIn(out.substr(draining, stopping - draining), method) << "\n";
  }

  const int port_ = FreeTcpPort();
  FakeDns dns_{{kReplicaA, kReplicaB}};
};

// --- Rebalancing after scale-up --------------------------------------------------

// A client connected while there was one replica; a second one comes up
// and into the DNS answer. The first replica's connections age out
// (MAX_CONNECTION_AGE_MS), the client re-resolves and spreads its calls over
// both. Without the age, nothing would ever make it resolve again: its one
// connection stays healthy.
TEST_F(ScalingTest, ClientsSpreadOverAUserServiceReplicaStartedAfterTheyConnected) {
  user_db_ = PrepareUserDatabase(pg());
  dns_.SetAddresses({kReplicaA});
  // Connections age out after 1 s (+/-10 %); calls in progress get 5 s.
  EnvVars env = UserServiceEnv();
  env["MAX_CONNECTION_AGE_MS"] = "1000";
  env["MAX_CONNECTION_AGE_GRACE_MS"] = "5000";
  env["MAX_DEADLINE_MS"] = "5000";
  std::unique_ptr<ServiceProcess> a = Replica(kUserServiceBin, kReplicaA, env);
  user_stub_ = UserService::NewStub(a->NewChannel());
  const int64_t id = CreateUser("spread");

  auto client = UserService::NewStub(BalancedChannel(dns_.Target(kHost, port_)));
  auto get = [&] {
    microblog::user::v1::GetUserRequest request;
    request.set_id(id);
    microblog::user::v1::GetUserResponse response;
    return client->GetUser(NewContext().get(), request, &response);
  };
  const std::string method = "/microblog.user.v1.UserService/GetUser";
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(get().ok());
  EXPECT_EQ(CallsIn(a->output(), method), 5);

  std::unique_ptr<ServiceProcess> b = Replica(kUserServiceBin, kReplicaB, env);
  dns_.SetAddresses({kReplicaA, kReplicaB});
  // The client finds B by itself: nothing but the aged connection makes it
  // resolve again.
  grpc::Status status;
  EXPECT_TRUE(Eventually([&] {
    status = get();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return CallsIn(b->output(), method) > 0;
  })) << "no call reached the new replica; DNS queries: "
      << dns_.queries();
  // From then on round_robin alternates: the next calls reach both.
  const int a_before = CallsIn(a->output(), method);
  const int b_before = CallsIn(b->output(), method);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(get().ok());
  EXPECT_GE(CallsIn(a->output(), method) - a_before, 5);
  EXPECT_GE(CallsIn(b->output(), method) - b_before, 5);
}

// post-service's own channel to user-service (USER_SERVICE_ADDR=dns:///...)
// rebalances the same way. gRPC resolves a name again at most every 30 s,
// so this waits that long.
TEST_F(ScalingTest, PostServiceSpreadsAuthorChecksOverAUserServiceReplicaStartedLater) {
  user_db_ = PrepareUserDatabase(pg());
  dns_.SetAddresses({kReplicaA});
  EnvVars env = UserServiceEnv();
  env["MAX_CONNECTION_AGE_MS"] = "1000";
  env["MAX_CONNECTION_AGE_GRACE_MS"] = "5000";
  env["MAX_DEADLINE_MS"] = "5000";
  std::unique_ptr<ServiceProcess> a = Replica(kUserServiceBin, kReplicaA, env);
  user_stub_ = UserService::NewStub(a->NewChannel());
  const int64_t author = CreateUser("checked");
  StartPostService(dns_.Target(kHost, port_));
  const std::string method = "/microblog.user.v1.UserService/BatchGetUsers";
  ASSERT_TRUE(CreatePost(author, "before the second replica").ok());

  std::unique_ptr<ServiceProcess> b = Replica(kUserServiceBin, kReplicaB, env);
  dns_.SetAddresses({kReplicaA, kReplicaB});
  grpc::Status status;
  EXPECT_TRUE(Eventually(
      [&] {
        status = CreatePost(author, "spread");
        EXPECT_TRUE(status.ok()) << status.error_message();
        return CallsIn(b->output(), method) > 0;
      },
      90s))
      << "post-service never checked an author with the new replica";
}

// --- Draining on scale-down and rollouts -----------------------------------------

// SIGTERM to one of two user-service replicas while a client keeps 32 calls
// in flight: no call fails, the replica exits 0.
TEST_F(ScalingTest, UserServiceReplicaLeavesUnderLoadWithoutAFailedCall) {
  user_db_ = PrepareUserDatabase(pg());
  const EnvVars env = Draining(UserServiceEnv());
  std::unique_ptr<ServiceProcess> a = Replica(kUserServiceBin, kReplicaA, env);
  std::unique_ptr<ServiceProcess> b = Replica(kUserServiceBin, kReplicaB, env);
  user_stub_ = UserService::NewStub(a->NewChannel());
  const int64_t id = CreateUser("steady");

  auto client = UserService::NewStub(BalancedChannel(
      dns_.Target(kHost, port_), microblog::user::v1::UserService::service_full_name()));
  const std::string method = "/microblog.user.v1.UserService/GetUser";
  Load load([&] {
    microblog::user::v1::GetUserRequest request;
    request.set_id(id);
    microblog::user::v1::GetUserResponse response;
    return client->GetUser(NewContext().get(), request, &response);
  });
  // Both replicas busy before the SIGTERM.
  ASSERT_TRUE(Eventually([&] {
    return CallsIn(a->output(), method) >= 100 && CallsIn(b->output(), method) >= 100;
  })) << load.Report();
  TerminateUnderLoad(*a, *b, method, load);
}

// The same for post-service: the scenario of issue 14 (GetPost, 32 in
// flight), where calls used to end CANCELLED. This client does no health
// checking, as most outside clients: what moves it is the pod leaving the
// DNS answer and its connection aging out (1 s here) within the drain
// delay (3 s), as in Kubernetes (README.md).
TEST_F(ScalingTest, PostServiceReplicaLeavesUnderLoadWithoutAFailedCall) {
  StartServices();
  const int64_t author = CreateUser("reader");
  Post post;
  ASSERT_TRUE(CreatePost(author, "read me", "", &post).ok());
  posts_.reset();
  EnvVars env = Draining(PostServiceEnv());
  env["SHUTDOWN_DRAIN_DELAY_MS"] = "3000";
  env["MAX_CONNECTION_AGE_MS"] = "1000";
  std::unique_ptr<ServiceProcess> a = Replica(kPostServiceBin, kReplicaA, env);
  std::unique_ptr<ServiceProcess> b = Replica(kPostServiceBin, kReplicaB, env);

  auto client = PostService::NewStub(BalancedChannel(dns_.Target(kHost, port_)));
  const std::string method = "/microblog.post.v1.PostService/GetPost";
  Load load([&] {
    GetPostRequest request;
    request.set_id(post.id());
    GetPostResponse response;
    return client->GetPost(NewContext().get(), request, &response);
  });
  ASSERT_TRUE(Eventually([&] {
    return CallsIn(a->output(), method) >= 100 && CallsIn(b->output(), method) >= 100;
  })) << load.Report();
  TerminateUnderLoad(*a, *b, method, load);
}

// post-service's channel to a draining user-service replica: CreatePost
// calls (each an author check) in flight while user-service replica A gets
// SIGTERM and B stays. No call fails; every acknowledged post is stored.
TEST_F(ScalingTest, PostServiceChecksAuthorsThroughAUserServiceReplicaLeaving) {
  user_db_ = PrepareUserDatabase(pg());
  const EnvVars env = Draining(UserServiceEnv());
  std::unique_ptr<ServiceProcess> a = Replica(kUserServiceBin, kReplicaA, env);
  std::unique_ptr<ServiceProcess> b = Replica(kUserServiceBin, kReplicaB, env);
  user_stub_ = UserService::NewStub(a->NewChannel());
  const int64_t author = CreateUser("writer");
  StartPostService(dns_.Target(kHost, port_));

  const std::string method = "/microblog.user.v1.UserService/BatchGetUsers";
  Load load([&] { return CreatePost(author, "through the rollout"); });
  ASSERT_TRUE(Eventually([&] {
    return CallsIn(a->output(), method) >= 20 && CallsIn(b->output(), method) >= 20;
  })) << load.Report();
  TerminateUnderLoad(*a, *b, method, load);
  EXPECT_EQ(CountPosts(), load.ok());
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
