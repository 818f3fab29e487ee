// bench.smoke: the benchmark's machinery end to end, briefly. A throwaway
// PostgreSQL, both databases migrated by the real `migrate` and seeded with
// the benchmark's own seed SQL (a smaller data set), the real user-service
// and post-service, and then the load generator: a few hundred calls per
// scenario, every one of which must come back OK. Only status counts are
// asserted, never timing: this checks that bench/run.sh measures working
// calls, not how fast they are.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "bench/call_stats.h"
#include "bench/dataset.h"
#include "bench/load_generator.h"
#include "bench/scenario.h"
#include "support/child_process.h"
#include "support/pg_cluster.h"
#include "support/service_process.h"
#include "support/test_tokens.h"

namespace microblog {
namespace bench {
namespace {

using ::microblog::test_support::MigratedDatabase;
using ::microblog::test_support::PgCluster;
using ::microblog::test_support::ServiceProcess;

constexpr std::int64_t kUsers = 200;
constexpr std::int64_t kPosts = 2000;
constexpr int kVerifyAccounts = 4;
// Calls per scenario; Argon2id scenarios take tens of ms of CPU per call.
constexpr std::int64_t kCalls = 300;
constexpr std::int64_t kArgon2Calls = 24;

// The percentiles are nearest-rank over every sample, as report.py computes
// pgbench's: the two sides of each ratio must be computed alike.
TEST(CallStatsTest, NearestRankPercentiles) {
  CallStats stats;
  for (int ms = 1000; ms >= 1; --ms) {
    stats.Record(std::chrono::milliseconds(ms),
                 ms % 100 == 0 ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::OK);
  }
  const LatencySummary l = stats.Summarize();
  EXPECT_DOUBLE_EQ(l.p50_ms, 500);
  EXPECT_DOUBLE_EQ(l.p90_ms, 900);
  EXPECT_DOUBLE_EQ(l.p99_ms, 990);
  EXPECT_DOUBLE_EQ(l.p999_ms, 999);
  EXPECT_DOUBLE_EQ(l.max_ms, 1000);
  EXPECT_DOUBLE_EQ(l.mean_ms, 500.5);
  const std::map<std::string, std::int64_t> counts = {{"OK", 990}, {"UNAVAILABLE", 10}};
  EXPECT_EQ(stats.StatusCounts(), counts);
}

class BenchSmokeTest : public ::testing::TestWithParam<Scenario> {
 protected:
  static void SetUpTestSuite() {
    pg_ = PgCluster::Start();
    const MigratedDatabase users = test_support::PrepareUserDatabase(*pg_);
    const MigratedDatabase posts = test_support::PreparePostDatabase(*pg_);
    const absl::StatusOr<std::string> hash = HashBenchPassword();
    ASSERT_TRUE(hash.ok()) << hash.status();
    pg_->Exec(users.name, SeedUsersSql(kUsers, *hash));
    pg_->Exec(posts.name, SeedPostsSql(kPosts, kUsers));

    // LOG_LEVEL as in bench/run.sh; two hashing threads as on the benchmark
    // machine.
    user_service_ = std::make_unique<ServiceProcess>(
        USER_SERVICE_BIN, test_support::EnvVars{{"USER_DATABASE_URL", users.service_url},
                                                {"PASSWORD_HASH_THREADS", "2"},
                                                {"LOG_LEVEL", "warn"}});
    post_service_ = std::make_unique<ServiceProcess>(
        POST_SERVICE_BIN, test_support::EnvVars{{"POST_DATABASE_URL", posts.service_url},
                                                {"USER_SERVICE_ADDR", user_service_->address()},
                                                {"LOG_LEVEL", "warn"}});
    auto stub = microblog::user::v1::UserService::NewStub(user_service_->NewChannel());
    const absl::Status created =
        CreateVerifyAccounts(*stub, kVerifyAccounts, std::chrono::seconds(30));
    ASSERT_TRUE(created.ok()) << created;
  }

  static void TearDownTestSuite() {
    post_service_.reset();
    user_service_.reset();
    pg_.reset();
  }

  void SetUp() override {
    // A failed suite set-up leaves these empty; the assertion above says why.
    ASSERT_NE(post_service_, nullptr);
  }

  static LoadOptions Options(Scenario scenario, std::int64_t calls) {
    LoadOptions options;
    options.scenario = scenario;
    options.user_address = user_service_->address();
    options.post_address = post_service_->address();
    options.in_flight = 8;
    options.channels = 2;
    options.max_calls = calls;
    // Generous: sanitizer builds on a busy machine; a hang fails, slowness
    // does not.
    options.call_timeout = std::chrono::seconds(60);
    options.users = kUsers;
    options.posts = kPosts;
    options.verify_accounts = kVerifyAccounts;
    // The services' default test key (support/test_tokens.h) signs the
    // load's tokens, as bench/run.sh's key does there; reads send them too.
    static const std::unique_ptr<microblog::bench::TokenBook> tokens = [] {
      absl::StatusOr<std::unique_ptr<microblog::bench::TokenBook>> book =
          microblog::bench::TokenBook::Open(test_support::DefaultTestKey().private_key_file);
      EXPECT_TRUE(book.ok()) << book.status();
      return book.ok() ? *std::move(book) : nullptr;
    }();
    options.tokens = tokens.get();
    options.tokens_on_reads = true;
    return options;
  }

  static std::string ServiceOutput() {
    return "user-service:\n" + user_service_->output() + "\npost-service:\n" +
           post_service_->output();
  }

  static std::unique_ptr<PgCluster> pg_;
  static std::unique_ptr<ServiceProcess> user_service_;
  static std::unique_ptr<ServiceProcess> post_service_;
};

std::unique_ptr<PgCluster> BenchSmokeTest::pg_;
std::unique_ptr<ServiceProcess> BenchSmokeTest::user_service_;
std::unique_ptr<ServiceProcess> BenchSmokeTest::post_service_;

TEST_P(BenchSmokeTest, EveryCallSucceeds) {
  const Scenario scenario = GetParam();
  const bool argon2 = scenario == Scenario::kCreateUser || scenario == Scenario::kVerifyPassword;
  const std::int64_t calls = argon2 ? kArgon2Calls : kCalls;

  const absl::StatusOr<LoadReport> report = RunLoad(Options(scenario, calls));
  ASSERT_TRUE(report.ok()) << report.status();

  EXPECT_EQ(report->scenario, ScenarioName(scenario));
  EXPECT_EQ(report->calls, calls);
  const std::map<std::string, std::int64_t> all_ok = {{"OK", calls}};
  EXPECT_EQ(report->status_counts, all_ok) << ServiceOutput();
  std::int64_t per_operation = 0;
  for (const auto& [name, operation] : report->operations) {
    EXPECT_EQ(operation.status_counts,
              (std::map<std::string, std::int64_t>{{"OK", operation.calls}}))
        << name;
    per_operation += operation.calls;
  }
  EXPECT_EQ(per_operation, calls);
  if (scenario == Scenario::kMix) {
    // 300 draws of a 10 %-or-more share: each RPC of the mix comes up.
    EXPECT_EQ(report->operations.size(), kMixWeights.size());
  } else {
    EXPECT_EQ(report->operations.size(), 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(AllScenarios, BenchSmokeTest, ::testing::ValuesIn(AllScenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& param) {
                           return std::string(ScenarioName(param.param));
                         });

// A paced run (--rate, open loop) sends on its schedule, never sooner: 100
// calls at 100 calls/s over 4 slots cannot end before the last slot's last
// call is due, (100 - 4) / 100 s after the start. A closed loop would send
// them as fast as the service answers.
TEST_F(BenchSmokeTest, PacedRunsSendOnTheirSchedule) {
  LoadOptions options = Options(Scenario::kGetUser, 100);
  options.in_flight = 4;
  options.rate = 100;
  const absl::StatusOr<LoadReport> report = RunLoad(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->calls, 100);
  EXPECT_EQ(report->status_counts, (std::map<std::string, std::int64_t>{{"OK", 100}}))
      << ServiceOutput();
  EXPECT_EQ(report->rate, 100);
  EXPECT_GE(report->seconds, 0.96);
  EXPECT_GT(report->latency.p50_ms, 0);
}

// The binary run.sh drives: a count-bounded run whose JSON line carries the
// same counts.
TEST_F(BenchSmokeTest, BinaryWritesJsonReport) {
  char json_path[] = "/tmp/bench_smoke_XXXXXX";
  const int fd = mkstemp(json_path);
  ASSERT_GE(fd, 0);
  close(fd);

  const test_support::RunResult run = test_support::RunToCompletion(
      MICROBLOG_BENCH_BIN,
      {"run", "--scenario=ListPosts", "--post_address=" + post_service_->address(), "--in_flight=4",
       "--channels=2", "--max_calls=120", "--call_timeout=60s", "--users=" + std::to_string(kUsers),
       "--json_out=" + std::string(json_path)},
      {}, std::chrono::seconds(120));
  std::ifstream in(json_path);
  std::stringstream json;
  json << in.rdbuf();
  std::remove(json_path);
  ASSERT_EQ(run.exit_code, 0) << run.output;

  google::protobuf::Struct report;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json.str(), &report);
  ASSERT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << json.str();
  const auto& fields = report.fields();
  EXPECT_EQ(fields.at("scenario").string_value(), "ListPosts");
  EXPECT_EQ(fields.at("calls").number_value(), 120);
  const auto& counts = fields.at("status_counts").struct_value().fields();
  ASSERT_EQ(counts.size(), 1u) << json.str();
  EXPECT_EQ(counts.at("OK").number_value(), 120);
  EXPECT_GT(fields.at("latency_ms").struct_value().fields().at("p99").number_value(), 0);
}

}  // namespace
}  // namespace bench
}  // namespace microblog
