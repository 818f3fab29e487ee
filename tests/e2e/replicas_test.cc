// Read replicas through the real path: user-service and post-service
// binaries on a throwaway primary with real streaming replicas
// (pg_basebackup -R, tests/support/pg_cluster.h), one of them delayed with
// recovery_min_apply_delay so that what it serves is visibly stale.
//
// What is proved: reads without a consistency token are served by a usable
// replica (the delayed one answers NOT_FOUND for a row the primary has);
// reads with the token of the caller's write see it; the RPCs that must see
// the latest write (BatchGetUsers, VerifyPassword) read the primary; a
// replica lagging past DB_REPLICA_MAX_LAG_MS is skipped; a replica stopped
// while a client keeps calling costs no failed call.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include "microblog/post/v1/post_service.grpc.pb.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "support/child_process.h"
#include "support/eventually.h"
#include "support/http_get.h"
#include "support/pg_cluster.h"
#include "support/service_process.h"
#include "support/shared_cluster.h"
#include "support/test_tokens.h"

namespace microblog {
namespace test_support {
namespace {

namespace user_v1 = ::microblog::user::v1;
namespace post_v1 = ::microblog::post::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr seconds kCallTimeout{30};
constexpr milliseconds kWait{60000};
// Longer than any test: the delayed replica replays nothing committed after
// it was made.
constexpr std::chrono::hours kLongDelay{1};

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  return context;
}

// The same, with `user_id`'s access token (support/test_tokens.h).
std::unique_ptr<grpc::ClientContext> ContextAs(int64_t user_id) {
  std::unique_ptr<grpc::ClientContext> context = Context();
  AddBearer(*context, TestToken(user_id));
  return context;
}

// The value of the series `series` (e.g. `microblog_db_reads_total{pool="replica-1"}`)
// in the service's /metrics; -1 when absent.
double MetricValue(const ServiceProcess& service, const std::string& series) {
  const HttpResponse response = HttpGet(service.metrics_address(), "/metrics");
  const std::string needle = "\n" + series + " ";
  const std::size_t at = response.body.find(needle);
  if (at == std::string::npos) return -1;
  return std::stod(response.body.substr(at + needle.size()));
}

// How many times `text` occurs in the service's output.
int Occurrences(const ServiceProcess& service, const std::string& text) {
  const std::string output = service.output();
  int n = 0;
  for (std::size_t at = output.find(text); at != std::string::npos;
       at = output.find(text, at + 1)) {
    ++n;
  }
  return n;
}

class ReplicasTest : public ::testing::Test {
 protected:
  // The binary's shared cluster, of which each test starts its replicas.
  static PgCluster& primary() { return SharedCluster(); }

  void SetUp() override {
    user_db_ = PrepareUserDatabase(primary());
    post_db_ = PreparePostDatabase(primary());
  }
  void TearDown() override {
    // Services first: they hold connections to the replicas.
    post_service_.reset();
    user_service_.reset();
    replicas_.clear();
  }

  // A streaming replica with everything committed so far, which replays
  // later commits `delay` late.
  PgCluster& StartReplica(milliseconds delay = milliseconds(0)) {
    replicas_.push_back(primary().StartReplica(delay));
    return *replicas_.back();
  }
  // An account made straight in the primary's users database; its id.
  int64_t InsertUser(const std::string& name) {
    return std::stoll(primary().Query(
        user_db_.name, "INSERT INTO users (username, email, password_hash) VALUES ('" + name +
                           "', '" + name + "@example.com', 'x') RETURNING id"));
  }

  // user-service with `replicas` as USER_DATABASE_READ_URL (and `extra`
  // settings).
  void StartUserService(const std::vector<PgCluster*>& replicas, const std::string& max_lag_ms,
                        const EnvVars& extra = {}) {
    EnvVars env = {{"USER_DATABASE_URL", user_db_.service_url},
                   {"USER_DATABASE_READ_URL", ReadUrls(replicas, user_db_)},
                   {"DB_REPLICA_MAX_LAG_MS", max_lag_ms},
                   {"DB_REPLICA_POLL_INTERVAL_MS", "50"},
                   {"HEALTH_CHECK_INTERVAL_MS", "100"},
                   {"LOG_LEVEL", "info"}};
    for (const auto& [key, value] : extra) env[key] = value;
    user_service_ = std::make_unique<ServiceProcess>(USER_SERVICE_BIN, env);
    users_ = user_v1::UserService::NewStub(user_service_->NewChannel());
  }
  // post-service with `replicas` as POST_DATABASE_READ_URL, on a
  // user-service without replicas (started here unless running).
  void StartPostService(const std::vector<PgCluster*>& replicas, const std::string& max_lag_ms) {
    if (user_service_ == nullptr) StartUserService({}, "1000");
    EnvVars env = {{"POST_DATABASE_URL", post_db_.service_url},
                   {"POST_DATABASE_READ_URL", ReadUrls(replicas, post_db_)},
                   {"USER_SERVICE_ADDR", user_service_->address()},
                   {"DB_REPLICA_MAX_LAG_MS", max_lag_ms},
                   {"DB_REPLICA_POLL_INTERVAL_MS", "50"},
                   {"HEALTH_CHECK_INTERVAL_MS", "100"},
                   {"LOG_LEVEL", "info"}};
    post_service_ = std::make_unique<ServiceProcess>(POST_SERVICE_BIN, env);
    posts_ = post_v1::PostService::NewStub(post_service_->NewChannel());
  }
  static std::string ReadUrls(const std::vector<PgCluster*>& replicas, const MigratedDatabase& db) {
    std::string urls;
    for (PgCluster* replica : replicas) {
      urls += (urls.empty() ? "" : " \n ") + replica->UrlFor(db.name, db.service_role);
    }
    return urls;
  }
  // Waits until the service logged `times` times that its replica is in use.
  static void AwaitReplicaInUse(const ServiceProcess& service, int times = 1) {
    ASSERT_TRUE(
        Eventually([&] { return Occurrences(service, "read replica in use") >= times; }, kWait))
        << service.output();
  }

  user_v1::CreateUserResponse CreateUser(const std::string& name) {
    user_v1::CreateUserRequest request;
    request.set_username(name);
    request.set_email(name + "@example.com");
    request.set_password("correct horse battery");
    user_v1::CreateUserResponse response;
    const grpc::Status status = users_->CreateUser(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
  grpc::StatusCode GetUser(int64_t id, const std::string& token) {
    user_v1::GetUserRequest request;
    request.set_id(id);
    request.set_consistency_token(token);
    user_v1::GetUserResponse response;
    return users_->GetUser(Context().get(), request, &response).error_code();
  }
  grpc::StatusCode LookupUser(const std::string& name, const std::string& token) {
    user_v1::LookupUserRequest request;
    request.set_username(name);
    request.set_consistency_token(token);
    user_v1::LookupUserResponse response;
    return users_->LookupUser(Context().get(), request, &response).error_code();
  }
  // The ids of ListUsers' first page (100 users).
  std::vector<int64_t> ListUsers(const std::string& token) {
    user_v1::ListUsersRequest request;
    request.set_page_size(100);
    request.set_consistency_token(token);
    user_v1::ListUsersResponse response;
    const grpc::Status status = users_->ListUsers(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<int64_t> ids;
    for (const user_v1::User& user : response.users()) ids.push_back(user.id());
    return ids;
  }
  grpc::StatusCode GetPost(int64_t id, const std::string& token) {
    post_v1::GetPostRequest request;
    request.set_id(id);
    request.set_consistency_token(token);
    post_v1::GetPostResponse response;
    return posts_->GetPost(Context().get(), request, &response).error_code();
  }
  // How many posts ListPosts' first page of `user_id` (0: everyone's) has.
  int CountPosts(int64_t user_id, const std::string& token) {
    post_v1::ListPostsRequest request;
    request.set_user_id(user_id);
    request.set_page_size(100);
    request.set_consistency_token(token);
    post_v1::ListPostsResponse response;
    const grpc::Status status = posts_->ListPosts(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.posts_size();
  }
  // The number of rows of `table` with id `id` in the replica's copy of `db`.
  static std::string RowsOnReplica(PgCluster& replica, const MigratedDatabase& db,
                                   const std::string& table, int64_t id) {
    return replica.Query(db.name,
                         "SELECT count(*) FROM " + table + " WHERE id = " + std::to_string(id));
  }

  MigratedDatabase user_db_;
  MigratedDatabase post_db_;
  std::vector<std::unique_ptr<PgCluster>> replicas_;
  std::unique_ptr<ServiceProcess> user_service_;
  std::unique_ptr<ServiceProcess> post_service_;
  std::unique_ptr<user_v1::UserService::Stub> users_;
  std::unique_ptr<post_v1::PostService::Stub> posts_;
};

TEST_F(ReplicasTest, UserReadsGoToTheReplicaUnlessTheirTokenOrRpcNeedsThePrimary) {
  const int64_t before = InsertUser("before");
  PgCluster& replica = StartReplica(kLongDelay);
  StartUserService({&replica}, "300000");  // a stale replica stays in use
  AwaitReplicaInUse(*user_service_);

  const user_v1::CreateUserResponse created = CreateUser("ada");
  const int64_t ada = created.user().id();
  const std::string& token = created.consistency_token();
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(RowsOnReplica(replica, user_db_, "users", ada), "0");

  // Without a token: the replica answers, without ada; with ada's token: the
  // primary, with her.
  EXPECT_EQ(GetUser(before, ""), grpc::StatusCode::OK);
  EXPECT_EQ(GetUser(ada, ""), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetUser(ada, token), grpc::StatusCode::OK);
  EXPECT_EQ(LookupUser("ada", ""), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(LookupUser("ada", token), grpc::StatusCode::OK);
  EXPECT_EQ(ListUsers(""), std::vector<int64_t>{before});
  EXPECT_EQ(ListUsers(token), (std::vector<int64_t>{before, ada}));
  // A token of an older write that the replica replayed: the replica again.
  EXPECT_EQ(GetUser(ada, "0/1"), grpc::StatusCode::NOT_FOUND);

  // What must see the latest write reads the primary, token or not.
  user_v1::BatchGetUsersRequest batch;
  batch.add_ids(ada);
  user_v1::BatchGetUsersResponse batch_response;
  ASSERT_TRUE(users_->BatchGetUsers(Context().get(), batch, &batch_response).ok());
  EXPECT_EQ(batch_response.users_size(), 1);
  user_v1::VerifyPasswordRequest verify;
  verify.set_login("ada");
  verify.set_password("correct horse battery");
  user_v1::VerifyPasswordResponse verified;
  EXPECT_TRUE(users_->VerifyPassword(Context().get(), verify, &verified).ok());
  // ... and so does a write deciding uniqueness.
  user_v1::CreateUserRequest again;
  again.set_username("ADA");
  again.set_email("other@example.com");
  again.set_password("correct horse battery");
  user_v1::CreateUserResponse ignored;
  EXPECT_EQ(users_->CreateUser(Context().get(), again, &ignored).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  // Deleting answers a token too: with it, the deletion is seen.
  user_v1::DeleteUserRequest remove;
  remove.set_id(before);
  user_v1::DeleteUserResponse removed;
  ASSERT_TRUE(users_->DeleteUser(ContextAs(before).get(), remove, &removed).ok());
  ASSERT_FALSE(removed.consistency_token().empty());
  EXPECT_EQ(GetUser(before, ""), grpc::StatusCode::OK);  // the stale replica
  EXPECT_EQ(GetUser(before, removed.consistency_token()), grpc::StatusCode::NOT_FOUND);

  EXPECT_EQ(GetUser(ada, "not a token"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_GT(MetricValue(*user_service_, "microblog_db_reads_total{pool=\"replica-1\"}"), 0);
  EXPECT_EQ(MetricValue(*user_service_, "microblog_db_replica_usable{pool=\"replica-1\"}"), 1);
}

// DB_PREPARED_STATEMENTS=off (for a transaction-mode pooler): the replica
// pools run their statements unnamed too.
TEST_F(ReplicasTest, UnnamedStatementsRouteTheSameWay) {
  const int64_t before = InsertUser("before");
  PgCluster& replica = StartReplica(kLongDelay);
  StartUserService({&replica}, "300000", {{"DB_PREPARED_STATEMENTS", "off"}});
  AwaitReplicaInUse(*user_service_);
  const user_v1::CreateUserResponse created = CreateUser("ada");
  ASSERT_FALSE(created.consistency_token().empty());
  EXPECT_EQ(GetUser(before, ""), grpc::StatusCode::OK);
  EXPECT_EQ(GetUser(created.user().id(), ""), grpc::StatusCode::NOT_FOUND);  // the replica
  EXPECT_EQ(GetUser(created.user().id(), created.consistency_token()), grpc::StatusCode::OK);
  EXPECT_EQ(LookupUser("ada", ""), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(LookupUser("ada", created.consistency_token()), grpc::StatusCode::OK);
}

TEST_F(ReplicasTest, PostReadsGoToTheReplicaUnlessTheirTokenNeedsThePrimary) {
  const int64_t author = InsertUser("author");
  PgCluster& replica = StartReplica(kLongDelay);
  StartPostService({&replica}, "300000");
  AwaitReplicaInUse(*post_service_);

  post_v1::CreatePostRequest create;
  create.set_user_id(author);
  create.set_body("fresh");
  post_v1::CreatePostResponse created;
  ASSERT_TRUE(posts_->CreatePost(ContextAs(create.user_id()).get(), create, &created).ok());
  const int64_t post = created.post().id();
  const std::string& token = created.consistency_token();
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(RowsOnReplica(replica, post_db_, "posts", post), "0");

  EXPECT_EQ(GetPost(post, ""), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetPost(post, token), grpc::StatusCode::OK);
  EXPECT_EQ(CountPosts(author, ""), 0);  // the batched first page
  EXPECT_EQ(CountPosts(author, token), 1);
  EXPECT_EQ(CountPosts(0, ""), 0);  // everyone's posts, a single query
  EXPECT_EQ(CountPosts(0, token), 1);

  post_v1::DeletePostRequest remove;
  remove.set_id(post);
  post_v1::DeletePostResponse removed;
  ASSERT_TRUE(posts_->DeletePost(ContextAs(author).get(), remove, &removed).ok());
  ASSERT_FALSE(removed.consistency_token().empty());
  EXPECT_EQ(GetPost(post, removed.consistency_token()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetPost(post, "1/2/3"), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ReplicasTest, AReplicaLaggingPastTheBoundIsSkipped) {
  PgCluster& user_replica = StartReplica(kLongDelay);
  StartUserService({&user_replica}, "300");
  const int64_t ada = CreateUser("ada").user().id();
  // Once the replica lags more than 300 ms, reads without a token go to the
  // primary: ada is found while the replica still lacks her.
  EXPECT_TRUE(Eventually([&] { return GetUser(ada, "") == grpc::StatusCode::OK; }, kWait));
  EXPECT_EQ(RowsOnReplica(user_replica, user_db_, "users", ada), "0");
  EXPECT_GE(Occurrences(*user_service_, "read replica skipped"), 1) << user_service_->output();
  EXPECT_EQ(MetricValue(*user_service_, "microblog_db_replica_usable{pool=\"replica-1\"}"), 0);
  EXPECT_GT(MetricValue(*user_service_, "microblog_db_replica_lag_seconds{pool=\"replica-1\"}"),
            0.3);

  StartPostService({&user_replica}, "300");  // the same replica holds the posts database
  post_v1::CreatePostRequest create;
  create.set_user_id(ada);
  create.set_body("hello");
  post_v1::CreatePostResponse created;
  ASSERT_TRUE(posts_->CreatePost(ContextAs(create.user_id()).get(), create, &created).ok());
  EXPECT_TRUE(
      Eventually([&] { return GetPost(created.post().id(), "") == grpc::StatusCode::OK; }, kWait));
  EXPECT_EQ(RowsOnReplica(user_replica, post_db_, "posts", created.post().id()), "0");
}

// Keeps calling `call` from a thread of its own until Stop(); counts the
// statuses.
class KeepCalling {
 public:
  explicit KeepCalling(std::function<grpc::StatusCode()> call)
      : thread_([this, call = std::move(call)] {
          while (!stop_) {
            const grpc::StatusCode code = call();
            std::lock_guard<std::mutex> lock(mu_);
            ++codes_[code];
          }
        }) {}
  ~KeepCalling() { Stop(); }
  std::map<grpc::StatusCode, int> Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    return codes_;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [code, count] : codes_) n += count;
    return n;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<grpc::StatusCode, int> codes_;
  std::thread thread_;  // last
};

// "code=count ..." of `codes`.
std::string Describe(const std::map<grpc::StatusCode, int>& codes) {
  std::string out;
  for (const auto& [code, count] : codes) {
    out += std::to_string(static_cast<int>(code)) + "=" + std::to_string(count) + " ";
  }
  return out + "\n";
}

TEST_F(ReplicasTest, AStoppedReplicaCostsNoFailedCall) {
  PgCluster& replica = StartReplica();
  StartUserService({&replica}, "5000");
  StartPostService({&replica}, "5000");
  const int64_t ada = CreateUser("ada").user().id();
  post_v1::CreatePostRequest create;
  create.set_user_id(ada);
  create.set_body("hello");
  post_v1::CreatePostResponse created;
  ASSERT_TRUE(posts_->CreatePost(ContextAs(create.user_id()).get(), create, &created).ok());
  const int64_t post = created.post().id();
  ASSERT_TRUE(replica.WaitForReplay(primary(), kWait));
  AwaitReplicaInUse(*user_service_);
  AwaitReplicaInUse(*post_service_);

  KeepCalling user_reads([&] {
    const grpc::StatusCode get = GetUser(ada, "");
    return get != grpc::StatusCode::OK ? get : LookupUser("ada", "");
  });
  KeepCalling post_reads([&] {
    const grpc::StatusCode get = GetPost(post, "");
    return get != grpc::StatusCode::OK ? get
           : CountPosts(ada, "") == 1  ? grpc::StatusCode::OK
                                       : grpc::StatusCode::DATA_LOSS;
  });
  const auto replica_reads = [&](const ServiceProcess& service) {
    return MetricValue(service, "microblog_db_reads_total{pool=\"replica-1\"}");
  };
  ASSERT_TRUE(Eventually(
      [&] { return replica_reads(*user_service_) > 20 && replica_reads(*post_service_) > 20; },
      kWait));

  replica.Stop();
  ASSERT_TRUE(Eventually(
      [&] {
        return Occurrences(*user_service_, "read replica skipped") >= 1 &&
               Occurrences(*post_service_, "read replica skipped") >= 1;
      },
      kWait));
  const int user_calls = user_reads.calls();
  const int post_calls = post_reads.calls();
  ASSERT_TRUE(Eventually(
      [&] { return user_reads.calls() > user_calls + 20 && post_reads.calls() > post_calls + 20; },
      kWait));  // served by the primary meanwhile

  replica.Restart();
  AwaitReplicaInUse(*user_service_, 2);
  AwaitReplicaInUse(*post_service_, 2);
  const double user_replica_reads = replica_reads(*user_service_);
  const double post_replica_reads = replica_reads(*post_service_);
  ASSERT_TRUE(Eventually(
      [&] {
        return replica_reads(*user_service_) > user_replica_reads + 20 &&
               replica_reads(*post_service_) > post_replica_reads + 20;
      },
      kWait));  // back on the replica

  const std::map<grpc::StatusCode, int> user_codes = user_reads.Stop();
  const std::map<grpc::StatusCode, int> post_codes = post_reads.Stop();
  ASSERT_EQ(user_codes.size(), 1u) << Describe(user_codes) << user_service_->output();
  EXPECT_EQ(user_codes.begin()->first, grpc::StatusCode::OK);
  ASSERT_EQ(post_codes.size(), 1u) << Describe(post_codes) << post_service_->output();
  EXPECT_EQ(post_codes.begin()->first, grpc::StatusCode::OK);
  // Health never depended on the replica.
  EXPECT_EQ(user_service_->CheckHealth(), grpc::health::v1::HealthCheckResponse::SERVING);
  std::cerr << "calls across the stop: user-service " << user_codes.begin()->second
            << ", post-service " << post_codes.begin()->second << "\n";
}

// --- Configuration ---

TEST(ReplicaConfigTest, HelpListsTheReplicaSettingsWithTheirDefaults) {
  for (const auto& [binary, read_url] :
       {std::pair<std::string, std::string>{USER_SERVICE_BIN, "USER_DATABASE_READ_URL"},
        {POST_SERVICE_BIN, "POST_DATABASE_READ_URL"}}) {
    const RunResult help = RunToCompletion(binary, {"--help"});
    EXPECT_EQ(help.exit_code, 0) << help.output;
    // Each option's entry (its flag line, then its help line) names its
    // default.
    const auto entry_of = [&help = help.output](const std::string& option) {
      const std::size_t at = help.find(" / " + option + "\n");
      if (at == std::string::npos) return std::string();
      const std::size_t help_line = help.find('\n', at) + 1;
      return help.substr(at, help.find('\n', help_line) - at);
    };
    EXPECT_NE(entry_of(read_url).find("(default: unset)"), std::string::npos) << help.output;
    EXPECT_NE(entry_of("DB_REPLICA_MAX_LAG_MS").find("(default: 1000)"), std::string::npos)
        << help.output;
    EXPECT_NE(entry_of("DB_REPLICA_POLL_INTERVAL_MS").find("(default: 500)"), std::string::npos)
        << help.output;
  }
}

TEST(ReplicaConfigTest, BadReplicaSettingsAreStartupErrorsNamingTheSetting) {
  const std::vector<std::pair<EnvVars, std::string>> cases = {
      {{{"USER_DATABASE_READ_URL", "postgresql://u:secret@a/db host=b"}},
       "USER_DATABASE_READ_URL: entry 2"},
      {{{"USER_DATABASE_READ_URL", "postgresql://u:secret@a/db?bogus=1"}},
       "USER_DATABASE_READ_URL: entry 1 is not a valid libpq connection string"},
      {{{"DB_REPLICA_MAX_LAG_MS", "0"}}, "DB_REPLICA_MAX_LAG_MS"},
      {{{"DB_REPLICA_POLL_INTERVAL_MS", "10"}}, "DB_REPLICA_POLL_INTERVAL_MS"},
  };
  for (const auto& [bad, expected] : cases) {
    EnvVars env = bad;
    env["USER_DATABASE_URL"] = "postgresql://user_service@localhost/users";
    env["TRANSPORT_SECURITY"] = "insecure";
    const RunResult result = RunToCompletion(USER_SERVICE_BIN, {}, env);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_NE(result.output.find(expected), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("secret"), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
