// BothServicesTest, the fixture of the end-to-end tests that run both
// services (post_service.*, drain.*, pooler.*, metrics.*, extreme_values.*,
// hostile.*): the real `post-service` binary on its own migrated PostgreSQL
// database, checking authors against the real `user-service` binary or,
// where a test must control user-service's answers, delay them or see its
// incoming metadata, an in-process FakeUserService; all over loopback gRPC.
//
//   TEST_F(BothServicesTest, Something) {
//     StartServices();
//     const int64_t alice = CreateUser("alice");
//     ASSERT_TRUE(CreatePost(alice, "hello").ok());
//   }
//
// Every test starts its own services on fresh databases of the binary's one
// throwaway PostgreSQL cluster. Built once, as the library
// microblog_e2e_fixture (tests/CMakeLists.txt), into which POST_SERVICE_BIN
// and USER_SERVICE_BIN are compiled.
#ifndef MICROBLOG_TESTS_E2E_BOTH_SERVICES_FIXTURE_H_
#define MICROBLOG_TESTS_E2E_BOTH_SERVICES_FIXTURE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_context.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "microblog/post/v1/post_service.grpc.pb.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "support/child_process.h"
#include "support/pg_cluster.h"
#include "support/service_process.h"
#include "support/shared_cluster.h"
#include "support/test_tokens.h"

namespace microblog {
namespace test_support {

// The binaries under test.
extern const char* const kPostServiceBin;
extern const char* const kUserServiceBin;

// Bound of every call and wait: long enough never to fire on a slow machine,
// short enough that a hang fails the test instead of the CTest timeout.
inline constexpr std::chrono::seconds kCallTimeout{30};
inline constexpr std::chrono::seconds kWaitTimeout{60};

// How many clients ExpectConcurrentRetriesStoreOnePost() races.
inline constexpr int kConcurrentRetries = 50;

// A client context whose deadline is `timeout` from now.
std::unique_ptr<grpc::ClientContext> NewContext(
    std::chrono::system_clock::duration timeout = kCallTimeout);
// The same, acting as `user_id` (its TestToken at `credentials_version`).
std::unique_ptr<grpc::ClientContext> NewContextAs(
    int64_t user_id, int64_t credentials_version = 1,
    std::chrono::system_clock::duration timeout = kCallTimeout);

// A timestamp in microseconds since the epoch.
int64_t Micros(const google::protobuf::Timestamp& t);

// An in-process UserService standing in for user-service where a test needs
// to script its answers, slow it down or see what post-service sent it.
// BatchGetUsers (what post-service's author checks call) knows exactly one
// user; everything else is UNIMPLEMENTED.
class FakeUserService final : public microblog::user::v1::UserService::Service {
 public:
  static constexpr int64_t kKnownUser = 7;

  // BatchGetUsers waits this long (or until the call is cancelled) before
  // answering.
  void set_delay(std::chrono::milliseconds delay) { delay_ = delay; }
  // The next `n` BatchGetUsers calls answer UNAVAILABLE.
  void FailNext(int n) { fail_next_ = n; }

  int calls() const { return calls_; }
  std::map<std::string, std::string> last_metadata();

  grpc::Status BatchGetUsers(grpc::ServerContext* context,
                             const microblog::user::v1::BatchGetUsersRequest* request,
                             microblog::user::v1::BatchGetUsersResponse* response) override;

 private:
  std::atomic<std::chrono::milliseconds> delay_{std::chrono::milliseconds(0)};
  std::atomic<int> fail_next_{0};
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::map<std::string, std::string> last_metadata_;  // guarded by mu_
};

// Serves a FakeUserService on a loopback port until destroyed.
class FakeUserServer {
 public:
  explicit FakeUserServer(
      std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials());
  ~FakeUserServer();

  FakeUserService& service() { return service_; }
  const std::string& address() const { return address_; }

 private:
  FakeUserService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

class BothServicesTest : public ::testing::Test {
 protected:
  using CreatePostRequest = microblog::post::v1::CreatePostRequest;
  using CreatePostResponse = microblog::post::v1::CreatePostResponse;
  using DeletePostRequest = microblog::post::v1::DeletePostRequest;
  using DeletePostResponse = microblog::post::v1::DeletePostResponse;
  using GetPostRequest = microblog::post::v1::GetPostRequest;
  using GetPostResponse = microblog::post::v1::GetPostResponse;
  using ListPostsRequest = microblog::post::v1::ListPostsRequest;
  using ListPostsResponse = microblog::post::v1::ListPostsResponse;
  using Post = microblog::post::v1::Post;
  using PostService = microblog::post::v1::PostService;
  using UserService = microblog::user::v1::UserService;
  using HealthStatus = grpc::health::v1::HealthCheckResponse;

  // Starts the binary's PostgreSQL cluster (SharedCluster()) before the
  // test, if it is not running yet.
  void SetUp() override { pg(); }

  // The binary's PostgreSQL cluster, shared by its tests.
  static PgCluster& pg() { return SharedCluster(); }

  // Starts the real user-service and post-service (with `user_env` and
  // `post_env` added to their environments), each on a fresh database.
  void StartServices(EnvVars user_env = {}, EnvVars post_env = {});

  // Starts post-service on a fresh database, with user-service at
  // `user_service_address`.
  void StartPostService(const std::string& user_service_address, EnvVars extra_env = {});
  // post-service's environment for post_db_ and the user-service of
  // StartPostService(), plus `extra_env`.
  EnvVars PostServiceEnv(EnvVars extra_env = {}) const;
  // Starts another post-service process on the same database (e.g. after
  // the previous one was stopped, or as a second replica).
  std::unique_ptr<ServiceProcess> LaunchPostService(EnvVars extra_env = {}) const;

  // user-service's environment for the database user_db_.
  EnvVars UserServiceEnv() const;
  // How a service reaches its database `db`: `url_variable`
  // (USER_DATABASE_URL, POST_DATABASE_URL) = db.service_url; a fixture
  // putting a pooler in between says otherwise (and what goes with it).
  virtual EnvVars DatabaseEnv(const MigratedDatabase& db, const std::string& url_variable) const {
    return {{url_variable, db.service_url}};
  }

  // Creates a user through user-service; returns its id.
  int64_t CreateUser(const std::string& name);
  // Deletes a user through user-service, with the user's own token.
  grpc::Status DeleteUser(int64_t id);
  // The account's credentials version (1 for an unknown id).
  int64_t CredentialsVersion(int64_t user_id);
  // Runs `sql` on user-service's database as the superuser.
  pqxx::result QueryUsers(const std::string& sql);

  // CreatePost and DeletePost act with the author's token (TestToken).
  grpc::Status CreatePost(int64_t user_id, const std::string& body,
                          const std::string& request_id = "", Post* post = nullptr,
                          PostService::Stub* stub = nullptr);
  grpc::Status GetPost(int64_t id, Post* post = nullptr);
  grpc::Status ListPosts(int64_t user_id, int32_t page_size, const std::string& token,
                         microblog::post::v1::ListPostsResponse* response);
  grpc::Status DeletePost(int64_t id);

  // Runs `sql` on post-service's database as the superuser.
  pqxx::result QueryPosts(const std::string& sql);
  int64_t CountPosts(const std::string& where = "true");
  // Post ids newest first, as the contract orders them.
  std::vector<int64_t> IdsNewestFirst(const std::string& where = "true");

  // Walks every page of a listing with `page_size`, calling `between_pages`
  // after each page; returns the posts in the order received.
  std::vector<Post> WalkAllPages(int64_t user_id, int32_t page_size,
                                 const std::function<void()>& between_pages);

  // Sends kConcurrentRetries CreatePost calls with one request_id at once,
  // each on its own connection, and checks that they all got the same post
  // and that the database holds exactly one.
  void ExpectConcurrentRetriesStoreOnePost(int64_t user_id);

  // With the services started: keeps readers and writers calling while the
  // cluster stops and starts again, and checks that health goes NOT_SERVING
  // and back, that calls fail only with UNAVAILABLE (or DEADLINE_EXCEEDED)
  // meanwhile and succeed again afterwards, and that every post a
  // CreatePost acknowledged is in the database.
  void ExpectDatabaseRestartUnderLoadIsUnavailableThenRecovers();

  MigratedDatabase user_db_;
  MigratedDatabase post_db_;
  std::unique_ptr<ServiceProcess> users_;
  std::unique_ptr<ServiceProcess> posts_;
  std::unique_ptr<UserService::Stub> user_stub_;
  std::string user_service_address_;  // of StartPostService()
  std::unique_ptr<PostService::Stub> stub_;
};

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_E2E_BOTH_SERVICES_FIXTURE_H_
