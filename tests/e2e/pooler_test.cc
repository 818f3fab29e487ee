// Both services through a real PgBouncer (Debian's 1.18, pool_mode =
// transaction, tests/support/pgbouncer.h) with DB_PREPARED_STATEMENTS=off:
// the core flows of both_services_fixture.h (CRUD, pagination, concurrent
// idempotent CreatePost, the deletion cascade, a database restart behind
// the pooler), and `migrate` refusing to run through it.
//
// PgBouncer's default_pool_size (2) is below DB_POOL_SIZE (8), so each
// service's concurrent calls share server connections: a statement
// prepared on one of them would be missing on the next.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "e2e/both_services_fixture.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "support/child_process.h"
#include "support/eventually.h"
#include "support/pgbouncer.h"

#ifndef MIGRATE_BIN
#error "MIGRATE_BIN must be defined (path of the migrate binary)"
#endif

namespace microblog {
namespace test_support {
namespace {

using namespace std::chrono_literals;
using microblog::user::v1::UserService;

class PoolerTest : public BothServicesTest {
 protected:
  static void SetUpTestSuite() { bouncer_ = PgBouncer::Start(pg()); }
  static void TearDownTestSuite() { bouncer_.reset(); }
  void SetUp() override {
    BothServicesTest::SetUp();
    ASSERT_NE(bouncer_, nullptr) << "PgBouncer did not start";
  }

  // Each service through the pooler, prepared statements off; user-service
  // LISTENs on a direct connection unless listen_direct_ is false (then it
  // polls).
  EnvVars DatabaseEnv(const MigratedDatabase& db, const std::string& url_variable) const override {
    EnvVars env = {{url_variable, bouncer_->UrlFor(db.name, db.service_role)},
                   {"DB_PREPARED_STATEMENTS", "off"}};
    if (url_variable == "USER_DATABASE_URL" && listen_direct_) {
      env["USER_DATABASE_LISTEN_URL"] = db.service_url;
    }
    return env;
  }

  // `n` posts by `user_id`; their ids in creation order.
  std::vector<int64_t> CreatePosts(int64_t user_id, int n) {
    std::vector<int64_t> ids;
    for (int i = 0; i < n; ++i) {
      Post post;
      const grpc::Status status = CreatePost(user_id, "post " + std::to_string(i), "", &post);
      EXPECT_TRUE(status.ok()) << status.error_message();
      ids.push_back(post.id());
    }
    return ids;
  }

  // Deletes `user_id` through user-service and waits until post-service
  // removed its posts (the cascade goes user-service's event feed ->
  // post-service's consumer, both through the pooler).
  void ExpectDeletionCascades(int64_t user_id, const std::vector<int64_t>& post_ids) {
    ASSERT_TRUE(DeleteUser(user_id).ok());
    const std::string of_user = "user_id = " + std::to_string(user_id);
    EXPECT_TRUE(Eventually([&] { return CountPosts(of_user) == 0; }))
        << posts_->output() << users_->output();
    for (int64_t id : post_ids) EXPECT_EQ(GetPost(id).error_code(), grpc::StatusCode::NOT_FOUND);
    // The deleted author's token is revoked.
    EXPECT_EQ(CreatePost(user_id, "too late").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }

  inline static std::unique_ptr<PgBouncer> bouncer_;
  bool listen_direct_ = true;
};

// The pooler really multiplexes: two client sessions open at once are
// served by one server process (what makes named prepared statements and
// session locks unusable through it, and what migrate detects).
TEST_F(PoolerTest, TwoOpenSessionsShareOneServerProcess) {
  pg().CreateDatabase("shared_db");
  pqxx::connection first(bouncer_->UrlFor("shared_db", "postgres"));
  pqxx::connection second(bouncer_->UrlFor("shared_db", "postgres"));
  auto pid = [](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT pg_backend_pid()")[0].as<int64_t>();
  };
  const int64_t first_pid = pid(first);
  EXPECT_EQ(pid(second), first_pid);
  // The statement_timeout the README asks deployments to give the server
  // connections (connect_query), since the services set none in this mode.
  pqxx::nontransaction tx(second);
  EXPECT_EQ(tx.exec1("SHOW statement_timeout")[0].as<std::string>(), "10s");
}

TEST_F(PoolerTest, UserCrudThroughThePooler) {
  StartServices();
  const int64_t ada = CreateUser("ada");
  ASSERT_GT(ada, 0);
  {
    microblog::user::v1::GetUserRequest request;
    request.set_id(ada);
    microblog::user::v1::GetUserResponse response;
    const grpc::Status status = user_stub_->GetUser(NewContext().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.user().username(), "ada");
  }
  {
    microblog::user::v1::LookupUserRequest request;
    request.set_email("ADA@example.com");
    microblog::user::v1::LookupUserResponse response;
    const grpc::Status status = user_stub_->LookupUser(NewContext().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.user().id(), ada);
  }
  {
    microblog::user::v1::UpdateUserRequest request;
    request.set_id(ada);
    request.set_username("ada_l");
    request.mutable_update_mask()->add_paths("username");
    microblog::user::v1::UpdateUserResponse response;
    const grpc::Status status = user_stub_->UpdateUser(NewContextAs(ada).get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.user().username(), "ada_l");
  }
  {
    // A unique violation through the pooler is still ALREADY_EXISTS.
    microblog::user::v1::CreateUserRequest request;
    request.set_username("ADA_L");
    request.set_email("other@example.com");
    request.set_password("correct horse battery staple");
    microblog::user::v1::CreateUserResponse response;
    const grpc::Status status = user_stub_->CreateUser(NewContext().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << status.error_message();
  }
  {
    microblog::user::v1::VerifyPasswordRequest request;
    request.set_login("ada_l");
    request.set_password("correct horse battery staple");
    microblog::user::v1::VerifyPasswordResponse response;
    const grpc::Status status = user_stub_->VerifyPassword(NewContext().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  // Pagination of ListUsers, 2 per page over 5 users.
  for (const char* name : {"bo", "cy", "di", "ed"}) CreateUser(name);
  std::vector<int64_t> listed;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    microblog::user::v1::ListUsersRequest request;
    request.set_page_size(2);
    request.set_page_token(token);
    microblog::user::v1::ListUsersResponse response;
    const grpc::Status status = user_stub_->ListUsers(NewContext().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const auto& user : response.users()) listed.push_back(user.id());
    token = response.next_page_token();
    if (token.empty()) break;
  }
  EXPECT_EQ(listed.size(), 5u);
  EXPECT_TRUE(token.empty());
}

TEST_F(PoolerTest, PostCrudAndPaginationUnderConcurrency) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  const std::vector<int64_t> ids = CreatePosts(alice, 23);

  // Many calls at once on few server connections: with named prepared
  // statements this is where "does not exist" / "already exists" came from.
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 8; ++r) {
    readers.emplace_back([&, r] {
      auto stub = PostService::NewStub(posts_->NewChannel());
      for (int i = 0; i < 25; ++i) {
        grpc::Status status;
        if (i % 2 == 0) {
          GetPostRequest request;
          request.set_id(ids[(r + i) % ids.size()]);
          GetPostResponse response;
          status = stub->GetPost(NewContext().get(), request, &response);
        } else {
          ListPostsRequest request;
          request.set_user_id(alice);
          request.set_page_size(5);
          ListPostsResponse response;
          status = stub->ListPosts(NewContext().get(), request, &response);
        }
        if (!status.ok()) {
          ++failures;
          ADD_FAILURE() << status.error_code() << " " << status.error_message();
        }
      }
    });
  }
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(failures.load(), 0);

  // Every page, newest first, each post once.
  const std::vector<Post> walked = WalkAllPages(alice, 7, [] {});
  std::vector<int64_t> walked_ids;
  for (const Post& post : walked) walked_ids.push_back(post.id());
  EXPECT_EQ(walked_ids, IdsNewestFirst("user_id = " + std::to_string(alice)));

  Post read;
  ASSERT_TRUE(GetPost(ids[3], &read).ok());
  EXPECT_EQ(read.body(), "post 3");
  ASSERT_TRUE(DeletePost(ids[3]).ok());
  EXPECT_EQ(GetPost(ids[3]).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(DeletePost(ids[3]).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CountPosts("user_id = " + std::to_string(alice)), 22);
}

TEST_F(PoolerTest, ConcurrentRetriesOfOneCreatePostStoreOnePost) {
  StartServices();
  ExpectConcurrentRetriesStoreOnePost(CreateUser("alice"));
}

TEST_F(PoolerTest, DeletingAUserRemovesItsPostsWithADirectListenSession) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  const int64_t bob = CreateUser("bob");
  const std::vector<int64_t> alice_posts = CreatePosts(alice, 3);
  CreatePosts(bob, 2);
  ExpectDeletionCascades(alice, alice_posts);
  EXPECT_EQ(CountPosts("user_id = " + std::to_string(bob)), 2);
  EXPECT_NE(users_->output().find("LISTEN on"), std::string::npos) << users_->output();
}

TEST_F(PoolerTest, DeletingAUserRemovesItsPostsWhenUserServicePollsInsteadOfListening) {
  listen_direct_ = false;
  StartServices({{"USER_EVENTS_POLL_MS", "200"}});
  const int64_t alice = CreateUser("alice");
  const std::vector<int64_t> alice_posts = CreatePosts(alice, 3);
  ExpectDeletionCascades(alice, alice_posts);
  EXPECT_NE(users_->output().find("poll every 200 ms"), std::string::npos) << users_->output();
}

TEST_F(PoolerTest, DatabaseRestartBehindThePoolerIsUnavailableThenRecovers) {
  StartServices();
  ExpectDatabaseRestartUnderLoadIsUnavailableThenRecovers();
}

// migrate's lock is a session's: through a transaction pooler it refuses
// (exit 4) before changing anything, and says to use a direct URL.
TEST_F(PoolerTest, MigrateRefusesToRunThroughATransactionPooler) {
  pg().CreateDatabase("migrate_through_pooler");
  const RunResult result = RunToCompletion(
      MIGRATE_BIN, {"up", "--target", "user"},
      {{"USER_DATABASE_URL", bouncer_->UrlFor("migrate_through_pooler", "postgres")}}, 60s,
      MICROBLOG_SOURCE_DIR);
  EXPECT_EQ(result.exit_code, 4) << result.output;
  EXPECT_NE(result.output.find("transaction-mode pooler"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("direct URL"), std::string::npos) << result.output;
  pqxx::connection direct(pg().SuperuserUrl("migrate_through_pooler"));
  pqxx::nontransaction tx(direct);
  EXPECT_TRUE(tx.exec1("SELECT to_regclass('schema_migrations') IS NULL")[0].as<bool>());
  // No lock left behind: a direct run goes through at once.
  const RunResult direct_run =
      RunToCompletion(MIGRATE_BIN, {"up", "--target", "user"},
                      {{"USER_DATABASE_URL", pg().SuperuserUrl("migrate_through_pooler")}}, 60s,
                      MICROBLOG_SOURCE_DIR);
  EXPECT_EQ(direct_run.exit_code, 0) << direct_run.output;
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
