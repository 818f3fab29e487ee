// Prometheus metrics of both services, end to end: the real binaries serve
// /metrics on METRICS_ADDRESS; calls with known outcomes must show in
// go-grpc-prometheus's series with exactly those counts, every method x
// code series exists from start-up, the exposition passes `promtool check
// metrics`, the listener survives garbage while gRPC keeps serving, and
// idle or slow connections cannot keep a scrape from being answered.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/service/metrics_server.h"
#include "e2e/both_services_fixture.h"
#include "support/eventually.h"
#include "support/http_get.h"
#include "support/temp_dir.h"

namespace microblog {
namespace test_support {
namespace {

using namespace std::chrono_literals;

// The value of the sample `series` (name and labels, exactly as exposed)
// in `exposition`; -1 when it is absent.
double Sample(const std::string& exposition, const std::string& series) {
  const std::string prefix = "\n" + series + " ";
  const std::size_t at = ("\n" + exposition).find(prefix);
  if (at == std::string::npos) return -1;
  const std::size_t start = at + prefix.size() - 1;
  return std::stod(exposition.substr(start, exposition.find('\n', start) - start));
}

std::string UserLabels(const std::string& method) {
  return "grpc_type=\"unary\",grpc_service=\"microblog.user.v1.UserService\",grpc_method=\"" +
         method + "\"";
}

std::string Handled(const std::string& labels, const std::string& code) {
  return "grpc_server_handled_total{" + labels + ",grpc_code=\"" + code + "\"}";
}

class MetricsTest : public BothServicesTest {
 protected:
  std::string Scrape(const ServiceProcess& service) {
    const HttpResponse response = HttpGet(service.metrics_address(), "/metrics");
    EXPECT_EQ(response.status, 200) << response.headers;
    EXPECT_NE(response.headers.find("text/plain; version=0.0.4"), std::string::npos)
        << response.headers;
    return response.body;
  }

  // `promtool check metrics` on `exposition`: its exit code and output.
  RunResult Promtool(const std::string& exposition) {
    const std::string path = (dir_.path() / "metrics.txt").string();
    std::ofstream(path) << exposition;
    return RunToCompletion("/bin/sh", {"-c", "promtool check metrics < " + path});
  }

  TempDir dir_{"metrics"};
};

TEST_F(MetricsTest, CallsShowInGrpcServerSeriesAndTheExpositionIsValid) {
  StartServices();
  const std::string before = Scrape(*users_);
  // Every method x code exists at 0 before any call.
  EXPECT_EQ(Sample(before, Handled(UserLabels("GetUser"), "OK")), 0) << before;
  EXPECT_EQ(Sample(before, Handled(UserLabels("VerifyPassword"), "Unauthenticated")), 0);
  EXPECT_EQ(Sample(before, Handled(UserLabels("ListUserEvents"), "OutOfRange")), 0);

  const int64_t alice = CreateUser("alice");
  for (int i = 0; i < 3; ++i) {
    microblog::user::v1::GetUserRequest request;
    request.set_id(alice);
    microblog::user::v1::GetUserResponse response;
    ASSERT_TRUE(user_stub_->GetUser(NewContext().get(), request, &response).ok());
  }
  for (int64_t id : {int64_t{987654}, int64_t{-1}}) {
    microblog::user::v1::GetUserRequest request;
    request.set_id(id);
    microblog::user::v1::GetUserResponse response;
    EXPECT_FALSE(user_stub_->GetUser(NewContext().get(), request, &response).ok());
  }
  ASSERT_TRUE(CreatePost(alice, "measured").ok());

  const std::string users = Scrape(*users_);
  const std::string get_user = UserLabels("GetUser");
  EXPECT_EQ(Sample(users, "grpc_server_started_total{" + get_user + "}"), 5) << users;
  EXPECT_EQ(Sample(users, Handled(get_user, "OK")), 3);
  EXPECT_EQ(Sample(users, Handled(get_user, "NotFound")), 1);
  EXPECT_EQ(Sample(users, Handled(get_user, "InvalidArgument")), 1);
  EXPECT_EQ(Sample(users, Handled(UserLabels("CreateUser"), "OK")), 1);
  EXPECT_EQ(Sample(users, "grpc_server_handling_seconds_count{" + get_user + "}"), 5);
  EXPECT_EQ(Sample(users, "grpc_server_handling_seconds_bucket{" + get_user + ",le=\"+Inf\"}"), 5);
  // post-service's author check reached user-service.
  EXPECT_EQ(Sample(users, Handled(UserLabels("BatchGetUsers"), "OK")), 1);
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"}) {
    EXPECT_GT(Sample(users, name), 0) << name;
  }
  EXPECT_TRUE(std::regex_search(
      users, std::regex(R"(microblog_build_info\{version="[^"]+",commit="[^"]+"\} 1)")))
      << users;

  const std::string posts = Scrape(*posts_);
  EXPECT_EQ(
      Sample(posts, Handled("grpc_type=\"unary\",grpc_service=\"microblog.post.v1.PostService\","
                            "grpc_method=\"CreatePost\"",
                            "OK")),
      1)
      << posts;
  // post-service's side of its calls to user-service.
  EXPECT_EQ(Sample(posts, "grpc_client_handled_total{" + UserLabels("BatchGetUsers") +
                              ",grpc_code=\"OK\"}"),
            1)
      << posts;
  EXPECT_EQ(Sample(posts, "grpc_client_handled_total{" + UserLabels("BatchGetUsers") +
                              ",grpc_code=\"Unavailable\"}"),
            0);
  EXPECT_EQ(
      Sample(posts, "grpc_client_handling_seconds_count{" + UserLabels("BatchGetUsers") + "}"), 1);
  // The deletion feed's long polls are calls too (one at least is running).
  EXPECT_GE(Sample(posts, "grpc_client_started_total{" + UserLabels("ListUserEvents") + "}"), 1);

  for (const std::string& exposition : {users, posts}) {
    const RunResult check = Promtool(exposition);
    EXPECT_EQ(check.exit_code, 0) << check.output;
  }
}

// What only we know: pools, batches, Argon2id, author checks and the
// deletion feed, each moved by calls whose effect on it is known.
TEST_F(MetricsTest, DomainMetricsFollowWhatTheServicesDid) {
  StartServices({{"DB_POOL_SIZE", "3"}}, {{"DB_POOL_SIZE", "4"}});
  const std::string idle_users = Scrape(*users_);
  EXPECT_EQ(Sample(idle_users, "microblog_db_pool_max_connections{pool=\"primary\"}"), 3)
      << idle_users;
  EXPECT_EQ(Sample(idle_users, "microblog_password_hash_queue_depth"), 0);

  const int64_t alice = CreateUser("alice");  // one Argon2id hash
  microblog::user::v1::VerifyPasswordRequest verify;
  verify.set_login("alice");
  verify.set_password("wrong password");
  microblog::user::v1::VerifyPasswordResponse verified;
  user_stub_->VerifyPassword(NewContext().get(), verify, &verified);  // one verification
  for (int i = 0; i < 3; ++i) {  // one after the other: batches of one
    microblog::user::v1::GetUserRequest request;
    request.set_id(alice);
    microblog::user::v1::GetUserResponse response;
    ASSERT_TRUE(user_stub_->GetUser(NewContext().get(), request, &response).ok());
  }
  ASSERT_TRUE(CreatePost(alice, "checked author").ok());
  // The token of a user user-service does not know: checked, then revoked.
  EXPECT_EQ(CreatePost(987654, "unknown author").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  {
    auto context = NewContext();
    context->AddMetadata("authorization", "Bearer not-a-token");
    microblog::post::v1::GetPostRequest request;
    request.set_id(1);
    microblog::post::v1::GetPostResponse response;
    EXPECT_EQ(stub_->GetPost(context.get(), request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }

  std::string users = Scrape(*users_);
  EXPECT_EQ(Sample(users, "microblog_password_hash_seconds_count{operation=\"hash\"}"), 1) << users;
  EXPECT_EQ(Sample(users, "microblog_password_hash_seconds_count{operation=\"verify\"}"), 1);
  EXPECT_EQ(Sample(users, "microblog_batch_size_count{loader=\"get_user\"}"), 3);
  EXPECT_EQ(Sample(users, "microblog_batch_size_sum{loader=\"get_user\"}"), 3);
  // CreateUser, VerifyPassword's lookup, and the GetUser batches at least.
  EXPECT_GE(Sample(users, "microblog_db_pool_acquisitions_total{pool=\"primary\"}"), 5);
  EXPECT_EQ(Sample(users, "microblog_db_pool_waits_total{pool=\"primary\"}"), 0);
  EXPECT_TRUE(Eventually([&] {
    users = Scrape(*users_);
    return Sample(users, "microblog_db_pool_connections{pool=\"primary\",state=\"in_use\"}") == 0;
  })) << users;
  const double idle =
      Sample(users, "microblog_db_pool_connections{pool=\"primary\",state=\"idle\"}");
  EXPECT_GE(idle, 1);
  EXPECT_LE(idle, 3);

  std::string posts = Scrape(*posts_);
  EXPECT_EQ(Sample(posts, "microblog_author_checks_total{outcome=\"ok\"}"), 1) << posts;
  EXPECT_EQ(Sample(posts, "microblog_author_checks_total{outcome=\"not_found\"}"), 1);
  EXPECT_EQ(Sample(posts, "microblog_author_checks_total{outcome=\"unavailable\"}"), 0);
  EXPECT_EQ(Sample(posts, "microblog_batch_size_count{loader=\"check_author\"}"), 2);
  // Access tokens: the two CreatePosts' accepted (each verified once), the
  // junk one refused.
  EXPECT_EQ(Sample(posts, "microblog_access_tokens_total{outcome=\"accepted\"}"), 2);
  EXPECT_EQ(Sample(posts, "microblog_access_tokens_total{outcome=\"refused\"}"), 1);
  EXPECT_EQ(Sample(posts, "microblog_access_token_cache_hits_total"), 0);
  EXPECT_EQ(Sample(posts, "microblog_jwks_reloads_total{outcome=\"error\"}"), 0);
  EXPECT_EQ(Sample(posts, "microblog_batch_size_count{loader=\"create_post\"}"), 1);
  EXPECT_EQ(Sample(posts, "microblog_db_pool_max_connections{pool=\"primary\"}"), 4);
  EXPECT_EQ(Sample(posts, "microblog_db_pool_max_connections{pool=\"user_events\"}"), 1);

  // The deletion reaches post-service through the feed: one event applied,
  // and nothing left behind.
  ASSERT_TRUE(DeleteUser(alice).ok());
  EXPECT_TRUE(Eventually([&] {
    posts = Scrape(*posts_);
    return Sample(posts, "microblog_user_events_applied_total") == 1;
  })) << posts;
  EXPECT_EQ(Sample(posts, "microblog_user_events_lag_seconds"), 0);

  // user-service gone: author checks are unavailable, and the feed's lag
  // grows while its polls fail.
  users_.reset();
  EXPECT_EQ(CreatePost(alice, "nobody to ask").error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Eventually([&] {
    posts = Scrape(*posts_);
    return Sample(posts, "microblog_user_events_lag_seconds") > 0;
  })) << posts;
  EXPECT_EQ(Sample(posts, "microblog_author_checks_total{outcome=\"unavailable\"}"), 1) << posts;
  const RunResult check = Promtool(posts);
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

// How many lines of `log` contain `text`.
int CountLines(const std::string& log, const std::string& text) {
  int count = 0;
  for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
    ++count;
  }
  return count;
}

// The access log at info, as deployed: every call that is not OK, every
// slow one, and one in ACCESS_LOG_SAMPLE_EVERY of the fast OK calls (health
// checks never: probes would drown the rest); the metrics count every call.
// user-service alone, so that only this test's calls are counted.
TEST_F(MetricsTest, TheAccessLogWritesFailuresSlowCallsAndASampleOfTheRest) {
  user_db_ = PrepareUserDatabase(pg());
  const auto start_users = [&](const std::string& sample_every, const std::string& slow_ms) {
    EnvVars env = UserServiceEnv();
    env["ACCESS_LOG_SAMPLE_EVERY"] = sample_every;
    env["ACCESS_LOG_SLOW_MS"] = slow_ms;
    users_ = std::make_unique<ServiceProcess>(kUserServiceBin, env);
    user_stub_ = UserService::NewStub(users_->NewChannel());
  };
  start_users("50", "60000");
  const int64_t alice = CreateUser("sampled");  // fast OK call number 1
  const auto get_user = [&](int64_t id) {
    microblog::user::v1::GetUserRequest request;
    request.set_id(id);
    microblog::user::v1::GetUserResponse response;
    return user_stub_->GetUser(NewContext().get(), request, &response);
  };
  for (int i = 0; i < 120; ++i) ASSERT_TRUE(get_user(alice).ok());  // numbers 2..121
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get_user(987654).error_code(), grpc::StatusCode::NOT_FOUND);
  const std::string log = users_->output();
  // OK calls number 1, 51 and 101 (CreateUser is the first); every NotFound.
  EXPECT_EQ(
      CountLines(log, "\"method\":\"/microblog.user.v1.UserService/GetUser\",\"code\":\"OK\""), 2)
      << log;
  EXPECT_EQ(
      CountLines(log, "\"method\":\"/microblog.user.v1.UserService/CreateUser\",\"code\":\"OK\""),
      1);
  EXPECT_EQ(CountLines(log, "\"code\":\"NOT_FOUND\""), 3) << log;
  EXPECT_EQ(Sample(Scrape(*users_), Handled(UserLabels("GetUser"), "OK")), 120);

  EXPECT_EQ(CountLines(log, "grpc.health.v1.Health"), 0) << log;

  // Every call slower than ACCESS_LOG_SLOW_MS (0: all of them) is written.
  start_users("0", "0");
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(get_user(alice).ok());
  EXPECT_EQ(CountLines(users_->output(),
                       "\"method\":\"/microblog.user.v1.UserService/GetUser\",\"code\":\"OK\""),
            7)
      << users_->output();
}

// A flood of refusals is not a flood of lines: at most
// ACCESS_LOG_CLIENT_ERRORS_PER_SECOND info lines a second for each client
// error code, the first line of a later second says how many went to
// debug, and the metrics still count every call. Server errors are never
// held back (not testable here: nothing makes INTERNAL on purpose).
TEST_F(MetricsTest, TheAccessLogWritesAFewLinesASecondOfEachClientError) {
  user_db_ = PrepareUserDatabase(pg());
  EnvVars env = UserServiceEnv();
  env["ACCESS_LOG_CLIENT_ERRORS_PER_SECOND"] = "5";
  users_ = std::make_unique<ServiceProcess>(kUserServiceBin, env);
  user_stub_ = UserService::NewStub(users_->NewChannel());
  const auto get_user = [&](int64_t id) {
    microblog::user::v1::GetUserRequest request;
    request.set_id(id);
    microblog::user::v1::GetUserResponse response;
    return user_stub_->GetUser(NewContext().get(), request, &response).error_code();
  };
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) ASSERT_EQ(get_user(987654), grpc::StatusCode::NOT_FOUND);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(get_user(-1), grpc::StatusCode::INVALID_ARGUMENT);
  const auto seconds_spent =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  // Each code has a budget of its own: the three INVALID_ARGUMENTs are all
  // written, however many NOT_FOUNDs came before.
  EXPECT_EQ(CountLines(users_->output(), "\"code\":\"INVALID_ARGUMENT\""), 3);
  const int written = CountLines(users_->output(), "\"code\":\"NOT_FOUND\"");
  EXPECT_GE(written, 5);
  EXPECT_LE(written, 5 * (seconds_spent + 2)) << users_->output();
  // One more, in a second of its own: written, with the count left out.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_EQ(get_user(987654), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CountLines(users_->output(), "\"code\":\"NOT_FOUND\""), written + 1);
  const std::string log = users_->output();
  const std::size_t last_line = log.rfind("\"code\":\"NOT_FOUND\"");
  ASSERT_NE(last_line, std::string::npos);
  EXPECT_NE(
      log.substr(last_line, log.find('\n', last_line) - last_line).find("\"suppressed_lines\":"),
      std::string::npos)
      << log;
  EXPECT_EQ(Sample(Scrape(*users_), Handled(UserLabels("GetUser"), "NotFound")), 201);
}

TEST_F(MetricsTest, TheListenerSurvivesGarbageAndOnlyServesMetrics) {
  StartServices();
  SendRaw(users_->metrics_address(), "GARBAGE\r\n\r\n");
  SendRaw(users_->metrics_address(), std::string(100000, 'x'));
  SendRaw(users_->metrics_address(), "GET /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n");
  EXPECT_EQ(HttpGet(users_->metrics_address(), "/other").status, 404);
  EXPECT_EQ(HttpGet(users_->metrics_address(), "/metrics").status, 200);
  EXPECT_GT(CreateUser("still_serving"), 0);
  EXPECT_TRUE(users_->Running());
}

// Issue #21: two connections that sent nothing used to take both of
// civetweb's workers, and every scrape timed out until civetweb dropped
// them (10 s); a client reconnecting kept metrics down. Now a handful of
// such clients (8 idle, 2 trickling a request a byte at a time, each
// reconnecting as soon as it is dropped) must leave every scrape answered
// quickly, and each of them gets dropped.
TEST_F(MetricsTest, IdleAndSlowConnectionsCannotBlockAScrape) {
  user_db_ = PrepareUserDatabase(pg());
  ServiceProcess users(kUserServiceBin, UserServiceEnv());
  const std::string address = users.metrics_address();
  constexpr int kIdle = 8;
  constexpr int kSlow = 2;
  const std::string partial_request = "GET /metrics HTTP/1.1\r\nHost: " + address + "\r\n";

  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < kIdle + kSlow; ++i) held.push_back(std::make_unique<RawConnection>(address));
  for (int i = kIdle; i < kIdle + kSlow; ++i) held[i]->Send(partial_request);
  std::vector<int> dropped(held.size(), 0);

  // Three times as long as the request timeout and then some: every held
  // connection is dropped and re-opened at least once meanwhile.
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(6 * MetricsServer::kRequestTimeoutMs);
  int scrapes = 0;
  std::chrono::milliseconds slowest{0};
  while (std::chrono::steady_clock::now() < end) {
    for (std::size_t i = 0; i < held.size(); ++i) {
      const bool slow = i >= static_cast<std::size_t>(kIdle);
      if (held[i]->ClosedByServer()) {
        ++dropped[i];
        held[i] = std::make_unique<RawConnection>(address);
        if (slow) held[i]->Send(partial_request);
      } else if (slow) {
        held[i]->Send("X");  // one more byte of a header line that never ends
      }
    }
    // Let civetweb accept the re-opened connections before the scrape.
    std::this_thread::sleep_for(200ms);
    const auto start = std::chrono::steady_clock::now();
    // HttpGet gives up after 2 s without a byte: a scrape stuck in
    // civetweb's queue has status 0.
    const HttpResponse response = HttpGet(address, "/metrics");
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    ++scrapes;
    slowest = std::max(slowest, took);
    EXPECT_EQ(response.status, 200) << "scrape " << scrapes << " after " << took.count() << " ms";
    EXPECT_LT(took, 5s) << "scrape " << scrapes;
    if (response.status == 200) {
      EXPECT_NE(response.body.find("grpc_server_handled_total"), std::string::npos);
    }
    std::this_thread::sleep_for(800ms);
  }
  std::cout << scrapes << " scrapes, the slowest " << slowest.count()
            << " ms; drops per held connection:";
  for (const int n : dropped) std::cout << " " << n;
  std::cout << "\n";
  EXPECT_GE(scrapes, 5);
  for (std::size_t i = 0; i < held.size(); ++i) {
    EXPECT_GE(dropped[i], 1) << (i < static_cast<std::size_t>(kIdle) ? "idle" : "slow")
                             << " connection " << i << " was never dropped";
  }
  EXPECT_TRUE(users.Running());
}

TEST_F(MetricsTest, AnEmptyMetricsAddressTurnsThemOff) {
  user_db_ = PrepareUserDatabase(pg());
  EnvVars env = UserServiceEnv();
  env["METRICS_ADDRESS"] = "";
  ServiceProcess users(kUserServiceBin, env);
  EXPECT_TRUE(users.metrics_address().empty());
  EXPECT_EQ(users.output().find("cannot serve metrics"), std::string::npos);
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
