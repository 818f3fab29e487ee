// End-to-end tests of user-service: the real binary, started by
// ServiceProcess on a database migrated by the real `migrate`, on a
// throwaway PostgreSQL cluster, called over real gRPC on loopback.
//
// Each test gets its own database and service process; the cluster is
// shared by the tests of one process (CTest runs each test in its own).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "common/base/page_token.h"
#include "common/rpc/grpc_status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "support/child_process.h"
#include "support/eventually.h"
#include "support/http_get.h"
#include "support/pg_cluster.h"
#include "support/rpc_details.h"
#include "support/service_process.h"
#include "support/shared_cluster.h"
#include "support/test_tokens.h"

#ifndef USER_SERVICE_BIN
#error "USER_SERVICE_BIN must be defined (path of the user-service binary)"
#endif

namespace {

namespace v1 = ::microblog::user::v1;
using ::grpc::StatusCode;
using ::grpc::health::v1::HealthCheckResponse;
using ::microblog::RetryDelayOf;
using ::microblog::test_support::AddBearer;
using ::microblog::test_support::EnvVars;
using ::microblog::test_support::MigratedDatabase;
using ::microblog::test_support::PgCluster;
using ::microblog::test_support::ServiceProcess;
using ::microblog::test_support::SharedCluster;
using ::microblog::test_support::TestToken;

// Generous bounds against hangs; nothing asserts on durations.
constexpr std::chrono::seconds kCallTimeout(60);
constexpr std::chrono::seconds kWaitTimeout(60);

constexpr char kPassword[] = "correct horse battery staple";

using ::microblog::test_support::Eventually;
using ::microblog::test_support::Repeat;
using ::microblog::test_support::ResourceInfoOf;

// The fields of the google.rpc.BadRequest detail, as a set: the order of the
// violations is not part of user-service's contract.
std::set<std::string> ViolatedFields(const grpc::Status& status) {
  const std::vector<std::string> fields = ::microblog::test_support::ViolatedFields(status);
  return {fields.begin(), fields.end()};
}

std::string Describe(const grpc::Status& status) {
  return "code " + std::to_string(status.error_code()) + ": " + status.error_message();
}

// Opens a Watch stream on health name `name`; `context` must outlive it.
std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> WatchHealth(
    grpc::health::v1::Health::Stub& health, grpc::ClientContext& context, const std::string& name) {
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(name);
  return health.Watch(&context, request);
}

// The next status a Watch stream sends, or nullopt once the stream ended.
std::optional<HealthCheckResponse::ServingStatus> NextStatus(
    grpc::ClientReader<HealthCheckResponse>& watch) {
  HealthCheckResponse response;
  if (!watch.Read(&response)) return std::nullopt;
  return response.status();
}

// A call's outcome.
template <typename Response>
struct Reply {
  grpc::Status status;
  Response response;
};

class UserServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = microblog::test_support::PrepareUserDatabase(SharedCluster());
    StartService();
  }

  // (Re)starts the service on this test's database with `extra` settings.
  void StartService(const EnvVars& extra = {}) {
    stub_.reset();
    service_.reset();
    EnvVars env = {{"USER_DATABASE_URL", db_.service_url},
                   {"HEALTH_CHECK_INTERVAL_MS", "100"},
                   {"LOG_LEVEL", "info"}};
    for (const auto& [key, value] : extra) env[key] = value;
    service_ = std::make_unique<ServiceProcess>(USER_SERVICE_BIN, env);
    stub_ = v1::UserService::NewStub(service_->NewChannel());
  }

  static void Deadline(grpc::ClientContext& context) {
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  }

  // Calls `method`; with `as_user`, with that account's access token (at
  // its current credentials version).
  template <typename Response, typename Request, typename Method>
  Reply<Response> Call(Method method, const Request& request, v1::UserService::Stub* stub = nullptr,
                       int64_t as_user = 0) {
    grpc::ClientContext context;
    Deadline(context);
    if (as_user > 0) AddBearer(context, TestToken(as_user, CredentialsVersion(as_user)));
    Reply<Response> reply;
    reply.status =
        ((stub != nullptr ? stub : stub_.get())->*method)(&context, request, &reply.response);
    return reply;
  }

  Reply<v1::CreateUserResponse> Create(const std::string& username, const std::string& email,
                                       const std::string& password = kPassword,
                                       v1::UserService::Stub* stub = nullptr) {
    v1::CreateUserRequest request;
    request.set_username(username);
    request.set_email(email);
    request.set_password(password);
    return Call<v1::CreateUserResponse>(&v1::UserService::Stub::CreateUser, request, stub);
  }

  // Creates a user that must succeed; returns it.
  v1::User MustCreate(const std::string& username, const std::string& email = "",
                      const std::string& password = kPassword) {
    auto reply = Create(username, email.empty() ? username + "@example.com" : email, password);
    EXPECT_TRUE(reply.status.ok()) << username << ": " << Describe(reply.status);
    return reply.response.user();
  }

  // Creates user<i> for i in [0, count) concurrently (hashing dominates);
  // returns them sorted by id.
  std::vector<v1::User> CreateMany(int count, const std::string& prefix = "user") {
    std::vector<v1::User> users(count);
    std::vector<std::thread> threads;
    std::atomic<int> next{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = next++; i < count; i = next++) {
          auto reply = Create(prefix + std::to_string(i), prefix + std::to_string(i) + "@x.io");
          EXPECT_TRUE(reply.status.ok()) << Describe(reply.status);
          users[i] = reply.response.user();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    std::sort(users.begin(), users.end(),
              [](const v1::User& a, const v1::User& b) { return a.id() < b.id(); });
    return users;
  }

  // The reads, anonymous (no e-mail addresses) or `as_user`.
  Reply<v1::GetUserResponse> Get(int64_t id, int64_t as_user = 0) {
    v1::GetUserRequest request;
    request.set_id(id);
    return Call<v1::GetUserResponse>(&v1::UserService::Stub::GetUser, request, nullptr, as_user);
  }

  Reply<v1::LookupUserResponse> LookupByUsername(const std::string& username, int64_t as_user = 0) {
    v1::LookupUserRequest request;
    request.set_username(username);
    return Call<v1::LookupUserResponse>(&v1::UserService::Stub::LookupUser, request, nullptr,
                                        as_user);
  }

  Reply<v1::LookupUserResponse> LookupByEmail(const std::string& email, int64_t as_user = 0) {
    v1::LookupUserRequest request;
    request.set_email(email);
    return Call<v1::LookupUserResponse>(&v1::UserService::Stub::LookupUser, request, nullptr,
                                        as_user);
  }

  Reply<v1::ListUsersResponse> List(int32_t page_size, const std::string& page_token = "") {
    v1::ListUsersRequest request;
    request.set_page_size(page_size);
    request.set_page_token(page_token);
    return Call<v1::ListUsersResponse>(&v1::UserService::Stub::ListUsers, request);
  }

  // Update and Delete act as the account itself (its own token).
  Reply<v1::UpdateUserResponse> Update(int64_t id, const std::vector<std::string>& paths,
                                       const std::string& username = "",
                                       const std::string& email = "",
                                       const std::string& password = "") {
    v1::UpdateUserRequest request;
    request.set_id(id);
    request.set_username(username);
    request.set_email(email);
    request.set_password(password);
    for (const std::string& path : paths) request.mutable_update_mask()->add_paths(path);
    return Call<v1::UpdateUserResponse>(&v1::UserService::Stub::UpdateUser, request, nullptr, id);
  }

  Reply<v1::DeleteUserResponse> Delete(int64_t id) {
    v1::DeleteUserRequest request;
    request.set_id(id);
    return Call<v1::DeleteUserResponse>(&v1::UserService::Stub::DeleteUser, request, nullptr, id);
  }

  Reply<v1::BatchGetUsersResponse> BatchGet(const std::vector<int64_t>& ids) {
    v1::BatchGetUsersRequest request;
    for (int64_t id : ids) request.add_ids(id);
    return Call<v1::BatchGetUsersResponse>(&v1::UserService::Stub::BatchGetUsers, request);
  }

  Reply<v1::VerifyPasswordResponse> Verify(const std::string& login, const std::string& password,
                                           v1::UserService::Stub* stub = nullptr) {
    v1::VerifyPasswordRequest request;
    request.set_login(login);
    request.set_password(password);
    return Call<v1::VerifyPasswordResponse>(&v1::UserService::Stub::VerifyPassword, request, stub);
  }

  // Runs `sql` on this test's database as the superuser; returns the first
  // column of the first row ("" when there is none).
  std::string QueryAsSuperuser(const std::string& sql) {
    pqxx::connection connection(db_.superuser_url);
    pqxx::nontransaction tx(connection);
    pqxx::result rows = tx.exec(sql);
    return rows.empty() || rows[0][0].is_null() ? "" : rows[0][0].as<std::string>();
  }

  int64_t CountUsers() { return std::stoll(QueryAsSuperuser("SELECT count(*) FROM users")); }

  // The account's credentials version (1 for an unknown id).
  int64_t CredentialsVersion(int64_t id) {
    const std::string version =
        QueryAsSuperuser("SELECT credentials_version FROM users WHERE id = " + std::to_string(id));
    return version.empty() ? 1 : std::stoll(version);
  }

  MigratedDatabase db_;
  std::unique_ptr<ServiceProcess> service_;
  std::unique_ptr<v1::UserService::Stub> stub_;
};

// --- CreateUser ---

TEST_F(UserServiceTest, CreateUserStoresAccountAndHashesPassword) {
  auto reply = Create("Alice", "Alice@Example.com");
  ASSERT_TRUE(reply.status.ok()) << Describe(reply.status);
  const v1::User& user = reply.response.user();
  EXPECT_GT(user.id(), 0);
  EXPECT_EQ(user.username(), "Alice");  // case kept as given
  EXPECT_EQ(user.email(), "Alice@Example.com");
  EXPECT_GT(user.create_time().seconds(), 1600000000);  // set by the server, after 2020

  // Its owner sees the account as created; anyone else without its e-mail
  // address.
  auto got = Get(user.id(), user.id());
  ASSERT_TRUE(got.status.ok()) << Describe(got.status);
  EXPECT_EQ(got.response.user().SerializeAsString(), user.SerializeAsString());
  auto anonymous = Get(user.id());
  ASSERT_TRUE(anonymous.status.ok()) << Describe(anonymous.status);
  EXPECT_EQ(anonymous.response.user().username(), "Alice");
  EXPECT_EQ(anonymous.response.user().email(), "");

  const std::string hash =
      QueryAsSuperuser("SELECT password_hash FROM users WHERE id = " + std::to_string(user.id()));
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find(kPassword), std::string::npos);
}

TEST_F(UserServiceTest, CreateUserReportsEveryBadFieldAndStoresNothing) {
  auto reply = Create("bad name", "not-an-email", "short");
  EXPECT_EQ(reply.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(reply.status), (std::set<std::string>{"username", "email", "password"}))
      << Describe(reply.status);

  auto empty = Create("", "", "");
  EXPECT_EQ(empty.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(empty.status), (std::set<std::string>{"username", "email", "password"}));
  EXPECT_EQ(CountUsers(), 0);
}

TEST_F(UserServiceTest, CreateUserLengthLimitsCountCharactersNotBytes) {
  // Username: 64 characters pass, 65 fail, also with multi-byte letters.
  EXPECT_TRUE(Create(Repeat("a", 64), "a64@x.io").status.ok());
  EXPECT_EQ(ViolatedFields(Create(Repeat("b", 65), "b65@x.io").status),
            std::set<std::string>{"username"});
  EXPECT_TRUE(Create(Repeat("é", 64), "e64@x.io").status.ok());   // 128 bytes
  EXPECT_TRUE(Create(Repeat("山", 64), "k64@x.io").status.ok());  // 192 bytes
  EXPECT_EQ(ViolatedFields(Create(Repeat("ж", 65), "zh65@x.io").status),
            std::set<std::string>{"username"});

  // Email: 120 characters pass, 121 fail; multi-byte characters count once.
  const std::string domain = "@example.io";  // 11 characters
  EXPECT_TRUE(Create("mail120", Repeat("m", 109) + domain).status.ok());
  EXPECT_TRUE(Create("mailutf", Repeat("ü", 109) + domain).status.ok());
  EXPECT_EQ(ViolatedFields(Create("mail121", Repeat("m", 110) + domain).status),
            std::set<std::string>{"email"});

  // Password: bytes, 8..1024.
  EXPECT_EQ(ViolatedFields(Create("pw7", "pw7@x.io", Repeat("p", 7)).status),
            std::set<std::string>{"password"});
  EXPECT_TRUE(Create("pw8", "pw8@x.io", Repeat("p", 8)).status.ok());
  EXPECT_TRUE(Create("pw1024", "pw1024@x.io", Repeat("p", 1024)).status.ok());
  EXPECT_EQ(ViolatedFields(Create("pw1025", "pw1025@x.io", Repeat("p", 1025)).status),
            std::set<std::string>{"password"});
  // Four 2-byte characters are 8 bytes: long enough.
  EXPECT_TRUE(Create("pwutf", "pwutf@x.io", Repeat("ä", 4)).status.ok());

  EXPECT_TRUE(Verify("pw1024", Repeat("p", 1024)).status.ok());
  EXPECT_TRUE(Verify(Repeat("山", 64), kPassword).status.ok());
}

TEST_F(UserServiceTest, CreateUserAcceptsOnlyLettersDigitsDotUnderscoreDash) {
  // "e" + combining acute accent is "é" (NFC, RFC 8265): a name.
  for (const std::string ok :
       {"Jane.Doe_1-2", "Жуков", "山田太郎", "Ærøskøbing", "x", "e\xCC\x81"}) {
    auto reply = Create(ok, "u" + std::to_string(CountUsers()) + "@x.io");
    EXPECT_TRUE(reply.status.ok()) << ok << ": " << Describe(reply.status);
  }
  for (const std::string bad :
       {"jane doe", "o'brien", "semi;colon", "tab\tname", "smile😀", "nbsp\xC2\xA0name", "a@b"}) {
    auto reply = Create(bad, "bad@x.io");
    EXPECT_EQ(reply.status.error_code(), StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(ViolatedFields(reply.status), std::set<std::string>{"username"}) << bad;
  }
  for (const std::string bad :
       {"no-at.example.com", "@example.com", "a@b@example.com", "a@localhost", "a@.example.com",
        "a@example.com.", "sp ace@example.com", "a@exa mple.com"}) {
    auto reply = Create("emailcheck", bad);
    EXPECT_EQ(ViolatedFields(reply.status), std::set<std::string>{"email"}) << bad;
  }
}

TEST_F(UserServiceTest, CreateUserRefusesTakenUsernameOrEmailIgnoringCase) {
  MustCreate("Bob", "bob@example.com");

  auto same_name = Create("bOB", "other@example.com");
  EXPECT_EQ(same_name.status.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_NE(same_name.status.error_message().find("username"), std::string::npos)
      << same_name.status.error_message();

  auto same_email = Create("robert", "BOB@EXAMPLE.COM");
  EXPECT_EQ(same_email.status.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_NE(same_email.status.error_message().find("email"), std::string::npos)
      << same_email.status.error_message();
  EXPECT_EQ(CountUsers(), 1);
}

// LookupUser is batched (lookups arriving together share one query): under
// concurrency each caller still gets its own account, by username or email,
// ignoring case, or its own NOT_FOUND; and every lookup went through the
// batches (their sizes add up to the calls).
TEST_F(UserServiceTest, ConcurrentLookupsEachGetTheirOwnAnswer) {
  const std::vector<v1::User> users = CreateMany(3, "looked");
  constexpr int kCalls = 90;
  std::vector<std::string> errors(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      const v1::User& user = users[i % 3];
      Reply<v1::LookupUserResponse> reply;
      int64_t expected_id = user.id();
      switch (i % 5) {
        case 0:
          reply = LookupByUsername(user.username());
          break;
        case 1:
          reply = LookupByEmail(user.email());
          break;
        case 2:
          reply = LookupByUsername(absl::AsciiStrToUpper(user.username()));
          break;
        case 3:
          reply = LookupByEmail(absl::AsciiStrToUpper(user.email()));
          break;
        default:
          reply = LookupByUsername("nobody" + std::to_string(i));
          expected_id = 0;
      }
      if (expected_id == 0) {
        if (reply.status.error_code() != StatusCode::NOT_FOUND) errors[i] = Describe(reply.status);
      } else if (!reply.status.ok() || reply.response.user().id() != expected_id) {
        errors[i] = Describe(reply.status) + " id " + std::to_string(reply.response.user().id());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kCalls; ++i) EXPECT_EQ(errors[i], "") << "call " << i;

  const std::string metrics =
      microblog::test_support::HttpGet(service_->metrics_address(), "/metrics").body;
  EXPECT_NE(metrics.find("microblog_batch_size_sum{loader=\"lookup_user\"} " +
                         std::to_string(kCalls) + "\n"),
            std::string::npos)
      << metrics;
}

TEST_F(UserServiceTest, ConcurrentCreatesOfOneUsernameLetExactlyOneWin) {
  constexpr int kClients = 100;
  // 100 hashes on 2 threads of a loaded 2-core test machine can take longer
  // than the default 10 s cap on a call.
  StartService({{"MAX_DEADLINE_MS", "120000"}});
  // A few independent connections, many calls on each.
  std::vector<std::unique_ptr<v1::UserService::Stub>> stubs;
  for (int i = 0; i < 4; ++i) stubs.push_back(v1::UserService::NewStub(service_->NewChannel()));

  std::vector<grpc::Status> results(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      // Mixed case: uniqueness ignores it.
      const std::string name = i % 2 == 0 ? "racer" : "RACER";
      // One caller (one address) with 100 calls at once exceeds its share
      // of the hashing queue: those refused with RESOURCE_EXHAUSTED retry
      // after their RetryInfo delay, as the contract asks (issue #21).
      for (int attempt = 0; attempt < 200; ++attempt) {
        results[i] = Create(name, "racer" + std::to_string(i) + "@x.io", kPassword,
                            stubs[i % stubs.size()].get())
                         .status;
        if (results[i].error_code() != StatusCode::RESOURCE_EXHAUSTED) break;
        std::this_thread::sleep_for(
            RetryDelayOf(results[i]).value_or(std::chrono::milliseconds(100)));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  int ok = 0;
  int already_exists = 0;
  for (const grpc::Status& status : results) {
    if (status.ok()) {
      ++ok;
    } else if (status.error_code() == StatusCode::ALREADY_EXISTS) {
      ++already_exists;
      EXPECT_NE(status.error_message().find("username"), std::string::npos)
          << status.error_message();
    } else {
      ADD_FAILURE() << "unexpected " << Describe(status);
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(already_exists, kClients - 1);
  EXPECT_EQ(CountUsers(), 1);
}

// --- GetUser, LookupUser ---

TEST_F(UserServiceTest, GetUserAnswersNotFoundAndRejectsNonPositiveIds) {
  v1::User user = MustCreate("carol");
  EXPECT_EQ(Get(user.id() + 1000).status.error_code(), StatusCode::NOT_FOUND);
  for (int64_t id : {0, -1}) {
    auto reply = Get(id);
    EXPECT_EQ(reply.status.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ViolatedFields(reply.status), std::set<std::string>{"id"});
  }
}

// Concurrent GetUser calls are loaded in batches (one query for many calls):
// each caller must still get exactly its own user, or its own NOT_FOUND.
TEST_F(UserServiceTest, ConcurrentGetUsersEachGetTheirOwnAnswer) {
  QueryAsSuperuser(
      "INSERT INTO users (username, email, password_hash) "
      "SELECT 'batch' || i, 'batch' || i || '@x.io', 'not-a-hash' FROM generate_series(1, 40) i");
  std::map<int64_t, std::string> names;
  {
    pqxx::connection connection(db_.superuser_url);
    pqxx::nontransaction tx(connection);
    for (const pqxx::row& row : tx.exec("SELECT id, username FROM users")) {
      names[row[0].as<int64_t>()] = row[1].as<std::string>();
    }
  }
  ASSERT_EQ(names.size(), 40u);
  const int64_t first = names.begin()->first;

  constexpr int kThreads = 16;
  constexpr int kCallsEach = 60;
  std::vector<std::unique_ptr<v1::UserService::Stub>> stubs;
  for (int i = 0; i < 4; ++i) stubs.push_back(v1::UserService::NewStub(service_->NewChannel()));
  std::atomic<int> found{0};
  std::atomic<int> missing{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        // Ids of existing users and ids past the last one, interleaved.
        const int64_t id = first + (t * 7 + i * 3) % 60;
        v1::GetUserRequest request;
        request.set_id(id);
        auto reply = Call<v1::GetUserResponse>(&v1::UserService::Stub::GetUser, request,
                                               stubs[t % stubs.size()].get());
        auto it = names.find(id);
        if (it != names.end()) {
          ASSERT_TRUE(reply.status.ok()) << id << ": " << Describe(reply.status);
          ASSERT_EQ(reply.response.user().id(), id);
          ASSERT_EQ(reply.response.user().username(), it->second);
          ++found;
        } else {
          ASSERT_EQ(reply.status.error_code(), StatusCode::NOT_FOUND) << id;
          std::optional<google::rpc::ResourceInfo> info = ResourceInfoOf(reply.status);
          ASSERT_TRUE(info.has_value());
          ASSERT_EQ(info->resource_name(), std::to_string(id));
          ++missing;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(found + missing, kThreads * kCallsEach);
  EXPECT_GT(found.load(), 0);
  EXPECT_GT(missing.load(), 0);
}

TEST_F(UserServiceTest, LookupUserIgnoresCaseAndValidatesItsKey) {
  v1::User user = MustCreate("Dave.Smith", "Dave.Smith@Example.com");

  auto by_name = LookupByUsername("dave.SMITH");
  ASSERT_TRUE(by_name.status.ok()) << Describe(by_name.status);
  EXPECT_EQ(by_name.response.user().id(), user.id());
  EXPECT_EQ(by_name.response.user().username(), "Dave.Smith");

  auto by_email = LookupByEmail("DAVE.smith@example.COM");
  ASSERT_TRUE(by_email.status.ok()) << Describe(by_email.status);
  EXPECT_EQ(by_email.response.user().id(), user.id());

  EXPECT_EQ(LookupByUsername("nobody").status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(LookupByEmail("nobody@example.com").status.error_code(), StatusCode::NOT_FOUND);

  auto no_key =
      Call<v1::LookupUserResponse>(&v1::UserService::Stub::LookupUser, v1::LookupUserRequest());
  EXPECT_EQ(no_key.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(no_key.status), std::set<std::string>{"key"});

  EXPECT_EQ(ViolatedFields(LookupByUsername("").status), std::set<std::string>{"username"});
  EXPECT_EQ(ViolatedFields(LookupByUsername("has space").status),
            std::set<std::string>{"username"});
  EXPECT_EQ(ViolatedFields(LookupByEmail("no-at-sign").status), std::set<std::string>{"email"});
}

// --- ListUsers ---

TEST_F(UserServiceTest, ListUsersWalksEveryUserOnceAcrossPages) {
  std::vector<v1::User> created = CreateMany(25);
  std::vector<int64_t> walked;
  std::string token;
  int pages = 0;
  do {
    auto page = List(7, token);
    ASSERT_TRUE(page.status.ok()) << Describe(page.status);
    EXPECT_LE(page.response.users_size(), 7);
    for (const v1::User& user : page.response.users()) walked.push_back(user.id());
    token = page.response.next_page_token();
    ASSERT_LT(++pages, 10) << "pagination does not end";
  } while (!token.empty());

  std::vector<int64_t> expected;
  for (const v1::User& user : created) expected.push_back(user.id());
  EXPECT_EQ(walked, expected);  // ascending ids, each once
  EXPECT_EQ(pages, 4);          // 7 + 7 + 7 + 4
}

TEST_F(UserServiceTest, ListUsersIsStableWhileUsersComeAndGo) {
  std::vector<v1::User> created = CreateMany(12);
  auto first = List(5);
  ASSERT_TRUE(first.status.ok()) << Describe(first.status);
  ASSERT_EQ(first.response.users_size(), 5);

  // Between pages: one seen user and one unseen user go, a new one comes.
  const int64_t seen_deleted = first.response.users(0).id();
  const int64_t unseen_deleted = created[8].id();
  ASSERT_TRUE(Delete(seen_deleted).status.ok());
  ASSERT_TRUE(Delete(unseen_deleted).status.ok());
  MustCreate("latecomer");

  std::multiset<int64_t> walked;
  for (const v1::User& user : first.response.users()) walked.insert(user.id());
  std::string token = first.response.next_page_token();
  for (int pages = 0; !token.empty(); ++pages) {
    ASSERT_LT(pages, 10) << "pagination does not end";
    auto page = List(5, token);
    ASSERT_TRUE(page.status.ok()) << Describe(page.status);
    for (const v1::User& user : page.response.users()) walked.insert(user.id());
    token = page.response.next_page_token();
  }
  for (const v1::User& user : created) {
    if (user.id() == unseen_deleted) {
      EXPECT_EQ(walked.count(user.id()), 0u);
    } else {
      EXPECT_EQ(walked.count(user.id()), 1u) << user.username();  // existed for the whole walk
    }
  }
  for (int64_t id : walked) EXPECT_EQ(walked.count(id), 1u) << "id " << id << " listed twice";
}

TEST_F(UserServiceTest, ListUsersDefaultsClampsAndRejectsBadInput) {
  // Listing is what is tested here: bulk rows are inserted directly.
  QueryAsSuperuser(
      "INSERT INTO users (username, email, password_hash) "
      "SELECT 'bulk' || g, 'bulk' || g || '@x.io', 'not-a-hash' FROM generate_series(1, 105) g");

  auto by_default = List(0);
  ASSERT_TRUE(by_default.status.ok()) << Describe(by_default.status);
  EXPECT_EQ(by_default.response.users_size(), 20);
  EXPECT_FALSE(by_default.response.next_page_token().empty());

  auto clamped = List(1000);
  ASSERT_TRUE(clamped.status.ok()) << Describe(clamped.status);
  EXPECT_EQ(clamped.response.users_size(), 100);
  auto rest = List(1000, clamped.response.next_page_token());
  ASSERT_TRUE(rest.status.ok()) << Describe(rest.status);
  EXPECT_EQ(rest.response.users_size(), 5);
  EXPECT_TRUE(rest.response.next_page_token().empty());

  auto exact = List(105);
  ASSERT_TRUE(exact.status.ok());
  EXPECT_EQ(exact.response.users_size(), 100);

  auto negative = List(-1);
  EXPECT_EQ(negative.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(negative.status), std::set<std::string>{"page_size"});

  // Tokens of another listing, or of another shape, are not ours either.
  for (const std::string& token :
       {std::string("garbage"), std::string("!!!"), microblog::EncodePageToken("posts", {20}),
        microblog::EncodePageToken("users", {20, 1})}) {
    auto bad_token = List(10, token);
    EXPECT_EQ(bad_token.status.error_code(), StatusCode::INVALID_ARGUMENT) << token;
    EXPECT_EQ(ViolatedFields(bad_token.status), std::set<std::string>{"page_token"}) << token;
  }
  // Both problems at once are both reported.
  EXPECT_EQ(ViolatedFields(List(-5, "garbage").status),
            (std::set<std::string>{"page_size", "page_token"}));
}

TEST_F(UserServiceTest, ListUsersOfEmptyTableIsOneEmptyPage) {
  auto page = List(10);
  ASSERT_TRUE(page.status.ok()) << Describe(page.status);
  EXPECT_EQ(page.response.users_size(), 0);
  EXPECT_TRUE(page.response.next_page_token().empty());
}

// --- UpdateUser ---

TEST_F(UserServiceTest, UpdateUserChangesOnlyMaskedFields) {
  v1::User user = MustCreate("erin", "erin@example.com");

  // Unmasked fields are ignored, even when they would be invalid.
  auto email_only = Update(user.id(), {"email"}, "invalid name!", "Erin@New.example", "x");
  ASSERT_TRUE(email_only.status.ok()) << Describe(email_only.status);
  EXPECT_EQ(email_only.response.user().username(), "erin");
  EXPECT_EQ(email_only.response.user().email(), "Erin@New.example");
  EXPECT_TRUE(Verify("erin", kPassword).status.ok());  // password untouched

  auto name_only = Update(user.id(), {"username"}, "Erin2");
  ASSERT_TRUE(name_only.status.ok()) << Describe(name_only.status);
  EXPECT_EQ(name_only.response.user().username(), "Erin2");
  EXPECT_EQ(name_only.response.user().email(), "Erin@New.example");
  EXPECT_EQ(name_only.response.user().create_time().SerializeAsString(),
            user.create_time().SerializeAsString());

  auto password_only = Update(user.id(), {"password"}, "", "", "a new password");
  ASSERT_TRUE(password_only.status.ok()) << Describe(password_only.status);
  EXPECT_EQ(Verify("erin2", kPassword).status.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Verify("erin2", "a new password").status.ok());

  auto all = Update(user.id(), {"username", "email", "password"}, "erin3", "e3@x.io", "third pw!");
  ASSERT_TRUE(all.status.ok()) << Describe(all.status);
  EXPECT_TRUE(Verify("e3@x.io", "third pw!").status.ok());

  auto got = Get(user.id(), user.id());
  ASSERT_TRUE(got.status.ok());
  EXPECT_EQ(got.response.user().username(), "erin3");
  EXPECT_EQ(got.response.user().email(), "e3@x.io");
}

TEST_F(UserServiceTest, UpdateUserRejectsBadMasksValuesAndIds) {
  v1::User user = MustCreate("frank");
  MustCreate("grace", "grace@example.com");

  auto empty_mask = Update(user.id(), {}, "frank2");
  EXPECT_EQ(empty_mask.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(empty_mask.status), std::set<std::string>{"update_mask"});

  auto unknown_path = Update(user.id(), {"username", "id"}, "frank2");
  EXPECT_EQ(unknown_path.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(unknown_path.status), std::set<std::string>{"update_mask.paths[1]"});

  auto bad_values = Update(user.id(), {"username", "email", "password"}, "", "nope", "short");
  EXPECT_EQ(ViolatedFields(bad_values.status),
            (std::set<std::string>{"username", "email", "password"}));

  EXPECT_EQ(ViolatedFields(Update(0, {"username"}, "ok").status), std::set<std::string>{"id"});
  // The token of an account that does not exist grants nothing.
  EXPECT_EQ(Update(user.id() + 1000, {"username"}, "ghost").status.error_code(),
            StatusCode::UNAUTHENTICATED);

  auto taken_name = Update(user.id(), {"username"}, "GRACE");
  EXPECT_EQ(taken_name.status.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_NE(taken_name.status.error_message().find("username"), std::string::npos);
  auto taken_email = Update(user.id(), {"email"}, "", "Grace@Example.com");
  EXPECT_EQ(taken_email.status.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_NE(taken_email.status.error_message().find("email"), std::string::npos);

  // Nothing changed.
  auto got = Get(user.id(), user.id());
  ASSERT_TRUE(got.status.ok());
  EXPECT_EQ(got.response.user().SerializeAsString(), user.SerializeAsString());
}

// --- DeleteUser ---

TEST_F(UserServiceTest, DeleteUserRemovesAccountOnce) {
  v1::User user = MustCreate("heidi");
  ASSERT_TRUE(Delete(user.id()).status.ok());
  EXPECT_EQ(Get(user.id()).status.error_code(), StatusCode::NOT_FOUND);
  // Its tokens went with it.
  const auto again_deleted = Delete(user.id()).status;
  EXPECT_EQ(again_deleted.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(again_deleted.error_message(), "access token revoked");
  EXPECT_EQ(Verify("heidi", kPassword).status.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ViolatedFields(Delete(-3).status), std::set<std::string>{"id"});

  // The name is free again; the new account gets a new id.
  v1::User again = MustCreate("heidi");
  EXPECT_GT(again.id(), user.id());
}

// --- BatchGetUsers ---

TEST_F(UserServiceTest, BatchGetUsersKeepsFirstAppearanceOrderAndSkipsUnknown) {
  v1::User a = MustCreate("ivan");
  v1::User b = MustCreate("judy");
  auto reply = BatchGet({b.id(), a.id(), b.id() + 1000, b.id(), a.id()});
  ASSERT_TRUE(reply.status.ok()) << Describe(reply.status);
  ASSERT_EQ(reply.response.users_size(), 2);
  // Without a token, no e-mail address (personal data).
  a.clear_email();
  b.clear_email();
  EXPECT_EQ(reply.response.users(0).SerializeAsString(), b.SerializeAsString());
  EXPECT_EQ(reply.response.users(1).SerializeAsString(), a.SerializeAsString());

  auto none = BatchGet({});
  ASSERT_TRUE(none.status.ok());
  EXPECT_EQ(none.response.users_size(), 0);

  std::vector<int64_t> hundred(100, a.id());
  EXPECT_TRUE(BatchGet(hundred).status.ok());
  hundred.push_back(a.id());
  auto too_many = BatchGet(hundred);
  EXPECT_EQ(too_many.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(too_many.status), std::set<std::string>{"ids"});

  auto bad_ids = BatchGet({a.id(), 0, b.id(), -7});
  EXPECT_EQ(bad_ids.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(bad_ids.status), (std::set<std::string>{"ids[1]", "ids[3]"}));
}

// --- VerifyPassword ---

TEST_F(UserServiceTest, VerifyPasswordAcceptsUsernameOrEmailIgnoringCase) {
  v1::User user = MustCreate("Mallory", "Mallory@Example.com");
  for (const std::string login : {"Mallory", "mALLORY", "mallory@example.com"}) {
    auto reply = Verify(login, kPassword);
    ASSERT_TRUE(reply.status.ok()) << login << ": " << Describe(reply.status);
    EXPECT_EQ(reply.response.user().SerializeAsString(), user.SerializeAsString());
  }
}

TEST_F(UserServiceTest, VerifyPasswordGivesUnknownLoginAndWrongPasswordTheSameAnswer) {
  MustCreate("niaj", "niaj@example.com");
  auto wrong_password = Verify("niaj", "not the password");
  auto unknown_name = Verify("olivia", "not the password");
  auto unknown_email = Verify("olivia@example.com", kPassword);
  for (const auto* reply : {&wrong_password, &unknown_name, &unknown_email}) {
    EXPECT_EQ(reply->status.error_code(), StatusCode::UNAUTHENTICATED) << Describe(reply->status);
    EXPECT_EQ(reply->status.error_message(), wrong_password.status.error_message());
    EXPECT_TRUE(reply->status.error_details().empty());
  }
  EXPECT_FALSE(wrong_password.status.error_message().empty());

  auto empty = Verify("", "");
  EXPECT_EQ(empty.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(empty.status), (std::set<std::string>{"login", "password"}));
}

TEST_F(UserServiceTest, VerifyPasswordRefusesLoginsAndPasswordsNoAccountCanHave) {
  MustCreate("peggy");
  // 120 characters is the longest login (an email); 1024 bytes the longest
  // password. Beyond: refused before any lookup or hash.
  EXPECT_EQ(Verify(Repeat("ж", 120), kPassword).status.error_code(), StatusCode::UNAUTHENTICATED);
  auto long_login = Verify(Repeat("ж", 121), kPassword);
  EXPECT_EQ(long_login.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(long_login.status), std::set<std::string>{"login"});
  EXPECT_EQ(Verify("peggy", Repeat("p", 1024)).status.error_code(), StatusCode::UNAUTHENTICATED);
  auto huge = Verify("peggy", Repeat("p", 1 << 20));
  EXPECT_EQ(huge.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(huge.status), std::set<std::string>{"password"});
}

// --- Logging ---

TEST_F(UserServiceTest, LogLevelDecidesWhetherEachRpcIsLogged) {
  const std::string rpc_line = "\"msg\":\"rpc\"";
  const std::string method = "/microblog.user.v1.UserService/GetUser";
  EXPECT_EQ(Get(424242).status.error_code(), StatusCode::NOT_FOUND);
  // LOG_LEVEL=info (this fixture's default): one line per call, with its code.
  ASSERT_TRUE(Eventually([&] { return service_->output().find(method) != std::string::npos; }));
  const std::string info_output = service_->output();
  EXPECT_NE(info_output.find(rpc_line), std::string::npos) << info_output;
  EXPECT_NE(info_output.find("\"code\":\"NOT_FOUND\""), std::string::npos) << info_output;

  StartService({{"LOG_LEVEL", "warn"}});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Get(424242).status.error_code(), StatusCode::NOT_FOUND);
  MustCreate("quiet");
  const std::string warn_output = service_->output();
  EXPECT_EQ(warn_output.find(rpc_line), std::string::npos) << warn_output;
}

// --- Hostile input ---

TEST_F(UserServiceTest, SqlInjectionShapedStringsAreStoredVerbatim) {
  const std::string email = "o'brien\";DROP/**/TABLE/**/users;--@x.io";
  const std::string password = "'; DROP TABLE users; -- \\' OR '1'='1";
  auto created = Create("o.brien", email, password);
  ASSERT_TRUE(created.status.ok()) << Describe(created.status);
  EXPECT_EQ(created.response.user().email(), email);

  auto looked_up = LookupByEmail(email, created.response.user().id());
  ASSERT_TRUE(looked_up.status.ok()) << Describe(looked_up.status);
  EXPECT_EQ(looked_up.response.user().email(), email);
  EXPECT_TRUE(Verify(email, password).status.ok());
  EXPECT_EQ(Verify("o.brien", "' OR '1'='1").status.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(QueryAsSuperuser("SELECT email FROM users"), email);
  EXPECT_EQ(CountUsers(), 1);
}

// --- Failures ---

TEST_F(UserServiceTest, InternalErrorsDoNotLeakSql) {
  v1::User user = MustCreate("peggy");
  QueryAsSuperuser("REVOKE ALL ON TABLE users FROM user_service");

  auto reply = Get(user.id());
  EXPECT_EQ(reply.status.error_code(), StatusCode::INTERNAL);
  EXPECT_EQ(reply.status.error_message(), "internal error");
  EXPECT_TRUE(reply.status.error_details().empty());
  auto list = List(10);
  EXPECT_EQ(list.status.error_code(), StatusCode::INTERNAL);
  EXPECT_EQ(list.status.error_message(), "internal error");
  // The cause is in the server's log, for operators.
  EXPECT_NE(service_->output().find("permission denied"), std::string::npos) << service_->output();
}

TEST_F(UserServiceTest, DatabaseRestartIsUnavailableThenRecoversWithoutServiceRestart) {
  v1::User user = MustCreate("quentin");
  auto health = grpc::health::v1::Health::NewStub(service_->NewChannel());
  grpc::ClientContext watch_context;
  auto watch = WatchHealth(*health, watch_context, "microblog.user.v1.UserService");
  EXPECT_EQ(NextStatus(*watch), std::optional(HealthCheckResponse::SERVING));

  SharedCluster().Stop();
  // Brings the shared cluster back however this test ends.
  struct RestartGuard {
    PgCluster* cluster;
    bool restarted = false;
    ~RestartGuard() {
      if (!restarted) cluster->Restart();
    }
  } guard{&SharedCluster()};

  // Fails fast with UNAVAILABLE (not by running into the 60 s deadline).
  auto down = Get(user.id());
  EXPECT_EQ(down.status.error_code(), StatusCode::UNAVAILABLE) << Describe(down.status);
  auto down_create = Create("rupert", "rupert@x.io");
  EXPECT_EQ(down_create.status.error_code(), StatusCode::UNAVAILABLE)
      << Describe(down_create.status);
  EXPECT_TRUE(service_->WaitForHealth(HealthCheckResponse::NOT_SERVING, kWaitTimeout));
  // The service's own name follows readiness; "liveness" (for Kubernetes
  // liveness probes) stays SERVING: a database outage must not restart pods.
  EXPECT_EQ(service_->CheckHealth(kCallTimeout, "microblog.user.v1.UserService"),
            std::optional(HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(service_->CheckHealth(kCallTimeout, "liveness"),
            std::optional(HealthCheckResponse::SERVING));
  EXPECT_EQ(service_->CheckHealth(kCallTimeout, "no.such.Service"), std::nullopt);
  // The open Watch stream was told, once.
  EXPECT_EQ(NextStatus(*watch), std::optional(HealthCheckResponse::NOT_SERVING));

  SharedCluster().Restart();
  guard.restarted = true;
  EXPECT_TRUE(Eventually([&] { return Get(user.id()).status.ok(); }));
  EXPECT_TRUE(service_->WaitForHealth(HealthCheckResponse::SERVING, kWaitTimeout));
  EXPECT_EQ(NextStatus(*watch), std::optional(HealthCheckResponse::SERVING));
  watch_context.TryCancel();
  (void)watch->Finish();
  EXPECT_TRUE(Create("rupert", "rupert@x.io").status.ok());
  EXPECT_TRUE(service_->Running());
}

TEST_F(UserServiceTest, SigtermLetsCallsInFlightFinishThenExitsZero) {
  // One hashing thread makes a burst of creates queue up inside the server.
  // The 30 s deadline leaves the burst room under the sanitizers' slow
  // Argon2id: calls that could not finish in time would be refused.
  StartService({{"PASSWORD_HASH_THREADS", "1"},
                {"SHUTDOWN_GRACE_MS", "30000"},
                {"MAX_DEADLINE_MS", "30000"}});

  auto health = grpc::health::v1::Health::NewStub(service_->NewChannel());
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  auto watch = health->Watch(&watch_context, grpc::health::v1::HealthCheckRequest());
  HealthCheckResponse health_update;
  ASSERT_TRUE(watch->Read(&health_update));
  EXPECT_EQ(health_update.status(), HealthCheckResponse::SERVING);

  constexpr int kCalls = 8;
  std::vector<grpc::Status> results(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      results[i] = Create("late" + std::to_string(i), "late" + std::to_string(i) + "@x.io").status;
    });
  }
  // The first row shows the burst is being worked on; the rest still wait
  // for the hashing thread.
  ASSERT_TRUE(Eventually([&] { return CountUsers() >= 1; }));
  service_->Signal(SIGTERM);

  bool not_serving = false;
  while (!not_serving && watch->Read(&health_update)) {
    not_serving = health_update.status() == HealthCheckResponse::NOT_SERVING;
  }
  EXPECT_TRUE(not_serving) << "health never went NOT_SERVING";
  // The server ends Watch streams itself when shutdown starts: left open,
  // one would hold the shutdown for the whole grace period.
  EXPECT_FALSE(watch->Read(&health_update));
  EXPECT_TRUE(watch->Finish().ok());

  for (std::thread& thread : threads) thread.join();
  for (const grpc::Status& status : results) EXPECT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(CountUsers(), kCalls);
  EXPECT_EQ(service_->WaitExit(kWaitTimeout), std::optional<int>(0)) << service_->output();
}

TEST_F(UserServiceTest, ManyWatchStreamsLeaveTheServerAnsweringAndEndAtShutdown) {
  const v1::User user = MustCreate("watched");
  auto health = grpc::health::v1::Health::NewStub(service_->NewChannel());
  constexpr int kWatchers = 64;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<HealthCheckResponse>>> watches;
  for (int i = 0; i < kWatchers; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    watches.push_back(WatchHealth(*health, *contexts.back(), i % 2 == 0 ? "" : "liveness"));
    EXPECT_EQ(NextStatus(*watches.back()), std::optional(HealthCheckResponse::SERVING)) << i;
  }
  // Open streams hold no server thread: everything else is still answered.
  EXPECT_TRUE(Get(user.id()).status.ok());
  EXPECT_TRUE(Create("another", "another@x.io").status.ok());
  EXPECT_EQ(service_->CheckHealth(kCallTimeout, "liveness"),
            std::optional(HealthCheckResponse::SERVING));

  service_->Signal(SIGTERM);
  for (int i = 0; i < kWatchers; ++i) {
    EXPECT_EQ(NextStatus(*watches[i]), std::optional(HealthCheckResponse::NOT_SERVING)) << i;
    EXPECT_EQ(NextStatus(*watches[i]), std::nullopt) << i;
    EXPECT_TRUE(watches[i]->Finish().ok()) << i;
  }
  EXPECT_EQ(service_->WaitExit(kWaitTimeout), std::optional<int>(0)) << service_->output();
}

TEST_F(UserServiceTest, CancelledWatchStreamsEndAtOnceAndDoNotHoldShutdown) {
  // A grace period longer than the wait below: a Watch stream the server
  // failed to end would keep it running past the wait.
  StartService({{"SHUTDOWN_GRACE_MS", "600000"}});
  auto health = grpc::health::v1::Health::NewStub(service_->NewChannel());
  constexpr int kWatchers = 8;
  for (int i = 0; i < kWatchers; ++i) {
    grpc::ClientContext context;
    auto watch = WatchHealth(*health, context, "");
    EXPECT_EQ(NextStatus(*watch), std::optional(HealthCheckResponse::SERVING));
    context.TryCancel();
    EXPECT_EQ(NextStatus(*watch), std::nullopt);
    EXPECT_EQ(watch->Finish().error_code(), StatusCode::CANCELLED);
  }
  // The server ended each stream when its client cancelled, not later: each
  // has its log line (written as the server finishes the call) already.
  const std::string cancelled = R"("method":"/grpc.health.v1.Health/Watch","code":"CANCELLED")";
  const auto count_cancelled = [&] {
    const std::string output = service_->output();
    int count = 0;
    for (auto at = output.find(cancelled); at != std::string::npos;
         at = output.find(cancelled, at + 1)) {
      ++count;
    }
    return count;
  };
  EXPECT_TRUE(Eventually([&] { return count_cancelled() == kWatchers; })) << service_->output();
  // The server is still well, and still tells new watchers.
  grpc::ClientContext context;
  auto watch = WatchHealth(*health, context, "");
  EXPECT_EQ(NextStatus(*watch), std::optional(HealthCheckResponse::SERVING));

  service_->Signal(SIGTERM);
  EXPECT_EQ(NextStatus(*watch), std::optional(HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(NextStatus(*watch), std::nullopt);
  EXPECT_TRUE(watch->Finish().ok());
  EXPECT_EQ(service_->WaitExit(kWaitTimeout), std::optional<int>(0)) << service_->output();
}

// --- Server reflection ---

// Lists the services of `channel` with grpc.reflection.v1alpha. gRPC installs
// the compiled reflection protos in libgrpc++_reflection but no header, so
// the messages are built through the descriptor pool.
std::vector<std::string> ListServicesByReflection(const std::shared_ptr<grpc::Channel>& channel) {
  using google::protobuf::Message;
  // Makes sure the library, and with it its descriptors, is loaded.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const auto* request_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
  const auto* response_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
  if (request_type == nullptr || response_type == nullptr) {
    ADD_FAILURE() << "reflection descriptors are not linked in";
    return {};
  }
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  std::unique_ptr<Message> request(factory->GetPrototype(request_type)->New());
  request->GetReflection()->SetString(request.get(), request_type->FindFieldByName("list_services"),
                                      "*");

  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  const auto step = [&queue] {
    void* tag = nullptr;
    bool ok = false;
    return queue.Next(&tag, &ok) && ok;
  };
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  call->StartCall(nullptr);
  EXPECT_TRUE(step());
  grpc::Slice request_slice(request->SerializeAsString());
  call->Write(grpc::ByteBuffer(&request_slice, 1), nullptr);
  EXPECT_TRUE(step());
  call->WritesDone(nullptr);
  EXPECT_TRUE(step());
  grpc::ByteBuffer response_bytes;
  call->Read(&response_bytes, nullptr);
  const bool got_response = step();
  grpc::Status status;
  call->Finish(&status, nullptr);
  EXPECT_TRUE(step());
  EXPECT_TRUE(status.ok()) << Describe(status);
  if (!got_response) return {};

  std::vector<grpc::Slice> slices;
  (void)response_bytes.Dump(&slices);
  std::string serialized;
  for (const grpc::Slice& slice : slices) {
    serialized.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  std::unique_ptr<Message> response(factory->GetPrototype(response_type)->New());
  EXPECT_TRUE(response->ParseFromString(serialized));
  const auto* list_field = response_type->FindFieldByName("list_services_response");
  const Message& list = response->GetReflection()->GetMessage(*response, list_field);
  const auto* service_field = list.GetDescriptor()->FindFieldByName("service");
  std::vector<std::string> names;
  for (int i = 0; i < list.GetReflection()->FieldSize(list, service_field); ++i) {
    const Message& service = list.GetReflection()->GetRepeatedMessage(list, service_field, i);
    names.push_back(service.GetReflection()->GetString(
        service, service.GetDescriptor()->FindFieldByName("name")));
  }
  return names;
}

TEST_F(UserServiceTest, ReflectionListsUserServiceAndHealth) {
  std::vector<std::string> services = ListServicesByReflection(service_->NewChannel());
  const auto has = [&](const std::string& name) {
    return std::find(services.begin(), services.end(), name) != services.end();
  };
  EXPECT_TRUE(has("microblog.user.v1.UserService")) << ::testing::PrintToString(services);
  EXPECT_TRUE(has("grpc.health.v1.Health")) << ::testing::PrintToString(services);
}

// --- Password checks under a flood (issue #21) ---

// The value of the series `series` (name and labels, as rendered) in a
// Prometheus text page, or -1 when it is missing.
double MetricValue(const std::string& page, const std::string& series) {
  const std::size_t at = page.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + series.size() + 2));
}

class PasswordFloodTest : public UserServiceTest {
 protected:
  // Listens on every local address, IPv4 and IPv6, so that a client of
  // [::1] is another peer than one of 127.0.0.1 (a client of 127.0.0.2
  // would not be: Linux gives it the source address 127.0.0.1). One
  // hashing thread: a small flood fills it even under the sanitizers. A
  // 30 s deadline leaves room for the sanitizers' slow Argon2id.
  void SetUp() override {
    if (!HasIpv6Loopback()) GTEST_SKIP() << "needs IPv6 on the loopback interface (::1)";
    db_ = microblog::test_support::PrepareUserDatabase(SharedCluster());
    port_ = microblog::test_support::FreeTcpPort();
    StartService({{"LISTEN_ADDRESS", "[::]:" + std::to_string(port_)},
                  {"PASSWORD_HASH_THREADS", "1"},
                  {"MAX_DEADLINE_MS", "30000"}});
  }

  static bool HasIpv6Loopback() {
    const int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    return ok;
  }

  // A stub whose calls come from `host` ("127.0.0.1" or "[::1]").
  std::unique_ptr<v1::UserService::Stub> StubFrom(const std::string& host) const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return v1::UserService::NewStub(grpc::CreateCustomChannel(
        host + ":" + std::to_string(port_), grpc::InsecureChannelCredentials(), args));
  }

  std::string Metrics() const {
    return microblog::test_support::HttpGet(service_->metrics_address(), "/metrics").body;
  }

  int port_ = 0;
};

TEST_F(PasswordFloodTest, WrongPasswordFloodFromOneCallerIsRefusedAtOnceAndLeavesOthersServed) {
  MustCreate("olivia", "olivia@x.io");
  auto flooder = StubFrom("127.0.0.1");
  auto other = StubFrom("[::1]");

  // More wrong logins than one caller may queue (64), and than one hashing
  // thread can check within the 30 s deadline; each a new login, so that
  // the login throttle is not what answers them.
  constexpr int kFlood = 100;
  struct Outcome {
    grpc::Status status;
    std::chrono::steady_clock::duration took{};
  };
  std::vector<Outcome> flood(kFlood);
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kFlood; ++i) {
    threads.emplace_back([&, i] {
      const auto start = std::chrono::steady_clock::now();
      flood[i].status =
          Verify("nobody" + std::to_string(i), "wrong password", flooder.get()).status;
      flood[i].took = std::chrono::steady_clock::now() - start;
      ++finished;
    });
  }
  // The calls the queue took wait in it, and the gauge counts them.
  double deepest = 0;
  EXPECT_TRUE(Eventually([&] {
    deepest = std::max(deepest, MetricValue(Metrics(), "microblog_password_hash_queue_depth"));
    return deepest >= 3 || finished == kFlood;
  }));
  // Meanwhile the owner logs in from elsewhere, and gets in.
  const grpc::Status login = Verify("olivia", kPassword, other.get()).status;
  for (std::thread& thread : threads) thread.join();

  EXPECT_TRUE(login.ok()) << Describe(login);
  EXPECT_GE(deepest, 3);
  int refused = 0;
  int held = 0;  // refusals answered after a hold (the caller ignored RetryInfo)
  for (int i = 0; i < kFlood; ++i) {
    const grpc::Status& status = flood[i].status;
    if (status.error_code() == StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      if (flood[i].took >= std::chrono::milliseconds(500)) ++held;
      EXPECT_TRUE(RetryDelayOf(status).has_value()) << "call " << i << ": " << Describe(status);
      // Answered at once, not when the 30 s deadline ran out.
      EXPECT_LT(flood[i].took, std::chrono::seconds(10)) << "call " << i;
    } else {
      // Admitted calls are checked (or, on a machine far slower than when
      // the queue measured it, run out of time in the hasher).
      EXPECT_TRUE(status.error_code() == StatusCode::UNAUTHENTICATED ||
                  status.error_code() == StatusCode::DEADLINE_EXCEEDED)
          << "call " << i << ": " << Describe(status);
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_LT(refused, kFlood);
  // The flood's calls all came at once: after the first refusal, the
  // others called inside its RetryInfo delay (tens of hashes of work
  // ahead, so its hold is the 1 s cap) and waited it out, under 10 s.
  EXPECT_GE(held, refused / 2) << held << " of " << refused << " refusals held";
  // Every refusal is counted, with its reason.
  const std::string metrics = Metrics();
  EXPECT_EQ(
      MetricValue(metrics, "microblog_password_checks_refused_total{reason=\"deadline\"}") +
          MetricValue(metrics,
                      "microblog_password_checks_refused_total{reason=\"caller_queue_full\"}"),
      refused)
      << metrics;
  EXPECT_EQ(MetricValue(metrics, "microblog_password_hash_queue_depth"), 0) << metrics;
}

TEST_F(PasswordFloodTest,
       RepeatedWrongPasswordsFromOneSourceAreThrottledWhileTheOwnerLogsInElsewhere) {
  MustCreate("peggy", "peggy@x.io");
  auto attacker = StubFrom("127.0.0.1");
  auto owner = StubFrom("[::1]");
  std::map<std::string, grpc::Status> refusals;
  for (const std::string login : {"peggy", "nosuchuser"}) {
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(Verify(login, "guess" + std::to_string(i), attacker.get()).status.error_code(),
                StatusCode::UNAUTHENTICATED)
          << login << " attempt " << i;
    }
    // Now even the right password is refused from there, before any hash.
    refusals[login] = Verify(login, kPassword, attacker.get()).status;
    EXPECT_EQ(refusals[login].error_code(), StatusCode::RESOURCE_EXHAUSTED)
        << login << ": " << Describe(refusals[login]);
    EXPECT_TRUE(RetryDelayOf(refusals[login]).has_value()) << login;
    // The same login in other case is the same login to the throttle.
    EXPECT_EQ(Verify(absl::AsciiStrToUpper(login), kPassword, attacker.get()).status.error_code(),
              StatusCode::RESOURCE_EXHAUSTED)
        << login;
  }
  // An unknown login is throttled exactly like an existing one.
  EXPECT_EQ(refusals["peggy"].error_message(), refusals["nosuchuser"].error_message());
  // After five failures, the next attempt waits up to one second.
  EXPECT_LE(RetryDelayOf(refusals["peggy"]), std::optional(std::chrono::milliseconds(1000)));
  EXPECT_LE(RetryDelayOf(refusals["nosuchuser"]), std::optional(std::chrono::milliseconds(1000)));
  // The owner, from another address, is not locked out.
  const grpc::Status login = Verify("Peggy", kPassword, owner.get()).status;
  EXPECT_TRUE(login.ok()) << Describe(login);
  EXPECT_GE(
      MetricValue(Metrics(), "microblog_password_checks_refused_total{reason=\"login_throttled\"}"),
      4);
}

// --- Configuration ---

TEST(UserServiceConfigTest, MissingDatabaseUrlIsAClearStartupError) {
  auto result = microblog::test_support::RunToCompletion(
      USER_SERVICE_BIN, {}, {{"USER_DATABASE_URL", ""}, {"TRANSPORT_SECURITY", "insecure"}});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("USER_DATABASE_URL"), std::string::npos) << result.output;
}

TEST(UserServiceConfigTest, HelpListsEveryOptionWithDefaults) {
  auto result = microblog::test_support::RunToCompletion(USER_SERVICE_BIN, {"--help"});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  for (const std::string option :
       {"USER_DATABASE_URL", "PASSWORD_HASH_THREADS", "--password-hash-threads", "LISTEN_ADDRESS",
        "0.0.0.0:50051", "DB_POOL_SIZE", "MAX_DEADLINE_MS", "SHUTDOWN_GRACE_MS"}) {
    EXPECT_NE(result.output.find(option), std::string::npos) << option << "\n" << result.output;
  }
}

}  // namespace
