// Both services as a real Prometheus server sees them: Debian's
// `prometheus` scrapes the real binaries' /metrics, and after a known number
// of calls with known outcomes its HTTP query API must give exactly those
// counts for go-grpc-prometheus's handled/started counters and handling-time
// histograms, on both sides of post-service's calls to user-service. This
// proves what metrics_test's direct reads cannot: that Prometheus accepts the
// whole exposition (up == 1) and keeps every series and label as we meant
// them (job and instance added, nothing dropped or renamed).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "e2e/both_services_fixture.h"
#include "support/eventually.h"
#include "support/prometheus_server.h"

namespace microblog {
namespace test_support {
namespace {

// The calls the test makes, and so the counts Prometheus must report.
constexpr int kGetUserOk = 7;
constexpr int kGetUserNotFound = 3;
constexpr int kCreatePostOk = 5;
// Bodies refused by validation, before any author check.
constexpr const char* kInvalidBodies[] = {"", "   "};
constexpr int kCreatePostInvalid = static_cast<int>(std::size(kInvalidBodies));

// gRPC's canonical codes: every one has a grpc_server_handled_total series
// per method from start-up.
constexpr std::size_t kGrpcCodes = 17;

// The PromQL selector of `metric` for `method`'s calls as scraped from
// `job`, narrowed by `more` matchers (e.g. grpc_code="OK").
std::string Series(const std::string& metric, const std::string& job, const std::string& method,
                   const std::string& more = "") {
  return metric + "{job=\"" + job + "\",grpc_method=\"" + method + "\"" +
         (more.empty() ? "" : "," + more) + "}";
}

// Seconds since the epoch, as Prometheus stamps its samples.
double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class PrometheusScrapeTest : public BothServicesTest {
 protected:
  // The value of the one series `promql` gives; NaN, which equals nothing,
  // after a failure when it gives none or several (a selector that is not
  // as precise as the test thinks).
  double Value(const std::string& promql) {
    const std::vector<PromSample> samples = prometheus_->Query(promql);
    EXPECT_EQ(samples.size(), 1u) << promql;
    return samples.size() == 1 ? samples[0].value : std::numeric_limits<double>::quiet_NaN();
  }

  void GetUser(int64_t id, grpc::StatusCode expected) {
    microblog::user::v1::GetUserRequest request;
    request.set_id(id);
    microblog::user::v1::GetUserResponse response;
    EXPECT_EQ(user_stub_->GetUser(NewContext().get(), request, &response).error_code(), expected)
        << id;
  }

  std::unique_ptr<PrometheusServer> prometheus_;
};

TEST_F(PrometheusScrapeTest, KnownCallsAddUpInPrometheus) {
  StartServices();
  // Started before the calls: Prometheus takes ~5 s to its first scrape
  // (its scrape manager applies new targets every 5 s), which the calls
  // below overlap.
  prometheus_ = std::make_unique<PrometheusServer>(std::map<std::string, std::string>{
      {"user-service", users_->metrics_address()}, {"post-service", posts_->metrics_address()}});

  const int64_t alice = CreateUser("alice");
  for (int i = 0; i < kGetUserOk; ++i) GetUser(alice, grpc::StatusCode::OK);
  for (int i = 0; i < kGetUserNotFound; ++i) GetUser(alice + 1000 + i, grpc::StatusCode::NOT_FOUND);
  // Each accepted post is one author check, one BatchGetUsers call (one at
  // a time: nothing for the batcher to merge).
  for (int i = 0; i < kCreatePostOk; ++i) {
    EXPECT_TRUE(CreatePost(alice, "post " + std::to_string(i)).ok());
  }
  for (const char* body : kInvalidBodies) {
    EXPECT_EQ(CreatePost(alice, body).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }

  // The services count a call before sending its status, so a scrape that
  // started after the last call returned has seen them all. The margin
  // covers Prometheus moving a scrape's timestamp by up to 2 ms onto its
  // schedule (its hidden --scrape.timestamp-tolerance).
  const double calls_done = Now() + 0.05;
  const bool scraped = Eventually(
      [&] {
        const std::vector<PromSample> stamps = prometheus_->Query("timestamp(up)");
        if (stamps.size() != 2) return false;
        for (const PromSample& stamp : stamps) {
          if (stamp.value <= calls_done) return false;
        }
        return true;
      },
      kWaitTimeout);
  ASSERT_TRUE(scraped) << "no scrape of both jobs after the calls; Prometheus said:\n"
                       << prometheus_->output();

  // The whole exposition parsed (a single bad line makes up 0).
  EXPECT_EQ(Value("up{job=\"user-service\"}"), 1) << prometheus_->output();
  EXPECT_EQ(Value("up{job=\"post-service\"}"), 1) << prometheus_->output();

  // user-service: every code of GetUser is a series, only OK and NotFound
  // counted, with the labels as exposed plus job and instance.
  const std::vector<PromSample> get_user =
      prometheus_->Query(Series("grpc_server_handled_total", "user-service", "GetUser"));
  EXPECT_EQ(get_user.size(), kGrpcCodes);
  for (const PromSample& sample : get_user) {
    const auto code_label = sample.labels.find("grpc_code");
    const std::string code = code_label == sample.labels.end() ? "" : code_label->second;
    EXPECT_EQ(sample.value, code == "OK"         ? kGetUserOk
                            : code == "NotFound" ? kGetUserNotFound
                                                 : 0)
        << code;
    const std::map<std::string, std::string> labels = {
        {"__name__", "grpc_server_handled_total"},
        {"job", "user-service"},
        {"instance", users_->metrics_address()},
        {"grpc_type", "unary"},
        {"grpc_service", "microblog.user.v1.UserService"},
        {"grpc_method", "GetUser"},
        {"grpc_code", code}};
    EXPECT_EQ(sample.labels, labels);
  }
  constexpr int kGetUsers = kGetUserOk + kGetUserNotFound;
  EXPECT_EQ(Value(Series("grpc_server_started_total", "user-service", "GetUser")), kGetUsers);
  EXPECT_EQ(Value("sum(" + Series("grpc_server_handled_total", "user-service", "GetUser") + ")"),
            kGetUsers);
  EXPECT_EQ(Value(Series("grpc_server_handling_seconds_count", "user-service", "GetUser")),
            kGetUsers);
  EXPECT_EQ(Value(Series("grpc_server_handling_seconds_bucket", "user-service", "GetUser",
                         "le=\"+Inf\"")),
            kGetUsers);
  EXPECT_GT(Value(Series("grpc_server_handling_seconds_sum", "user-service", "GetUser")), 0);
  EXPECT_EQ(
      Value(Series("grpc_server_handled_total", "user-service", "CreateUser", "grpc_code=\"OK\"")),
      1);

  // post-service: CreatePost's outcomes.
  constexpr int kCreatePosts = kCreatePostOk + kCreatePostInvalid;
  EXPECT_EQ(
      Value(Series("grpc_server_handled_total", "post-service", "CreatePost", "grpc_code=\"OK\"")),
      kCreatePostOk);
  EXPECT_EQ(Value(Series("grpc_server_handled_total", "post-service", "CreatePost",
                         "grpc_code=\"InvalidArgument\"")),
            kCreatePostInvalid);
  EXPECT_EQ(Value(Series("grpc_server_started_total", "post-service", "CreatePost")), kCreatePosts);
  EXPECT_EQ(Value("sum(" + Series("grpc_server_handled_total", "post-service", "CreatePost") + ")"),
            kCreatePosts);
  EXPECT_EQ(Value(Series("grpc_server_handling_seconds_count", "post-service", "CreatePost")),
            kCreatePosts);
  EXPECT_EQ(Value(Series("grpc_server_handling_seconds_bucket", "post-service", "CreatePost",
                         "le=\"+Inf\"")),
            kCreatePosts);

  // The author checks, as post-service made them and user-service served them.
  EXPECT_EQ(Value(Series("grpc_client_handled_total", "post-service", "BatchGetUsers",
                         "grpc_code=\"OK\"")),
            kCreatePostOk);
  EXPECT_EQ(Value(Series("grpc_client_started_total", "post-service", "BatchGetUsers")),
            kCreatePostOk);
  EXPECT_EQ(Value(Series("grpc_client_handling_seconds_count", "post-service", "BatchGetUsers")),
            kCreatePostOk);
  EXPECT_EQ(Value(Series("grpc_server_handled_total", "user-service", "BatchGetUsers",
                         "grpc_code=\"OK\"")),
            kCreatePostOk);
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
