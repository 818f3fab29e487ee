// End-to-end tests of post-service: the real `post-service` binary on its own
// migrated PostgreSQL database, checking authors against the real
// `user-service` binary (or, where a test must control user-service's answers,
// delay or see its incoming metadata, an in-process fake UserService), all
// over loopback gRPC.
//
// Every test starts its own services on fresh databases of the binary's one
// throwaway PostgreSQL cluster. No assertion depends on how fast anything is:
// deadlines only keep a broken build from hanging.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/channel_arguments.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "microblog/post/v1/post_service.grpc.pb.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "support/child_process.h"
#include "support/eventually.h"
#include "support/pg_cluster.h"
#include "support/rpc_details.h"
#include "support/service_process.h"

#ifndef POST_SERVICE_BIN
#error "POST_SERVICE_BIN must be defined (path of the post-service binary)"
#endif
#ifndef USER_SERVICE_BIN
#error "USER_SERVICE_BIN must be defined (path of the user-service binary)"
#endif

namespace microblog {
namespace {

using namespace std::chrono_literals;
using microblog::post::v1::CreatePostRequest;
using microblog::post::v1::CreatePostResponse;
using microblog::post::v1::DeletePostRequest;
using microblog::post::v1::DeletePostResponse;
using microblog::post::v1::GetPostRequest;
using microblog::post::v1::GetPostResponse;
using microblog::post::v1::ListPostsRequest;
using microblog::post::v1::ListPostsResponse;
using microblog::post::v1::Post;
using microblog::post::v1::PostService;
using microblog::test_support::ChildProcess;
using microblog::test_support::EnvVars;
using microblog::test_support::MigratedDatabase;
using microblog::test_support::PgCluster;
using microblog::test_support::ServiceProcess;
using microblog::user::v1::UserService;
using HealthStatus = grpc::health::v1::HealthCheckResponse;

// Bound of every call and wait: long enough never to fire on a slow machine,
// short enough that a hang fails the test instead of the CTest timeout.
constexpr auto kCallTimeout = 30s;
constexpr auto kWaitTimeout = 60s;

constexpr int kConcurrentRetries = 50;

constexpr char kTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
constexpr char kTracestate[] = "congo=t61rcWkgMzE";

std::unique_ptr<grpc::ClientContext> NewContext(
    std::chrono::system_clock::duration timeout = kCallTimeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

using ::microblog::test_support::Eventually;
using ::microblog::test_support::Repeat;
using ::microblog::test_support::ResourceInfoOf;
using ::microblog::test_support::ViolatedFields;

int64_t Micros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

// An in-process UserService standing in for user-service where a test needs
// to script its answers, slow it down or see what post-service sent it.
// BatchGetUsers (what post-service's author checks call) knows exactly one
// user; everything else is UNIMPLEMENTED.
class FakeUserService final : public UserService::Service {
 public:
  static constexpr int64_t kKnownUser = 7;

  // BatchGetUsers waits this long (or until the call is cancelled) before
  // answering.
  void set_delay(std::chrono::milliseconds delay) { delay_ = delay; }
  // The next `n` BatchGetUsers calls answer UNAVAILABLE.
  void FailNext(int n) { fail_next_ = n; }

  int calls() const { return calls_; }
  std::map<std::string, std::string> last_metadata() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_metadata_;
  }

  grpc::Status BatchGetUsers(grpc::ServerContext* context,
                             const microblog::user::v1::BatchGetUsersRequest* request,
                             microblog::user::v1::BatchGetUsersResponse* response) override {
    ++calls_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_metadata_.clear();
      for (const auto& [key, value] : context->client_metadata()) {
        last_metadata_[std::string(key.data(), key.size())] =
            std::string(value.data(), value.size());
      }
    }
    const auto until = std::chrono::steady_clock::now() + delay_.load();
    while (std::chrono::steady_clock::now() < until && !context->IsCancelled()) {
      std::this_thread::sleep_for(10ms);
    }
    if (fail_next_.fetch_sub(1) > 0) return {grpc::StatusCode::UNAVAILABLE, "scripted failure"};
    for (int64_t id : request->ids()) {
      if (id != kKnownUser) continue;
      microblog::user::v1::User* user = response->add_users();
      user->set_id(id);
      user->set_username("fake");
    }
    return grpc::Status::OK;
  }

 private:
  std::atomic<std::chrono::milliseconds> delay_{0ms};
  std::atomic<int> fail_next_{0};
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::map<std::string, std::string> last_metadata_;  // guarded by mu_
};

// Serves a FakeUserService on a loopback port until destroyed.
class FakeUserServer {
 public:
  explicit FakeUserServer(std::shared_ptr<grpc::ServerCredentials> credentials =
                              grpc::InsecureServerCredentials()) {
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", credentials, &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    if (!server_ || port == 0) throw std::runtime_error("cannot start the fake user-service");
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  ~FakeUserServer() { server_->Shutdown(std::chrono::system_clock::now() + 1s); }

  FakeUserService& service() { return service_; }
  const std::string& address() const { return address_; }

 private:
  FakeUserService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// A throwaway CA with a server certificate for 127.0.0.1 and a client
// certificate, made with the openssl command-line tool.
class TestCertificates {
 public:
  TestCertificates() {
    char dir_template[] = "/tmp/mbcert-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir_template;
    std::ofstream(dir_ / "server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    std::ofstream(dir_ / "client.ext") << "extendedKeyUsage=clientAuth\n";
    const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt",
                                         "ec_paramgen_curve:prime256v1", "-nodes"};
    auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
      a.insert(a.end(), b.begin(), b.end());
      return a;
    };
    Openssl(with({"req", "-x509", "-days", "2", "-subj", "/CN=microblog test CA", "-keyout",
                  "ca.key", "-out", "ca.crt"},
                 ec));
    for (const std::string name : {"server", "client"}) {
      Openssl(with({"req", "-subj", "/CN=" + name, "-keyout", name + ".key", "-out", name + ".csr"},
                   ec));
      Openssl({"x509", "-req", "-days", "2", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey",
               "ca.key", "-CAcreateserial", "-extfile", name + ".ext", "-out", name + ".crt"});
    }
  }
  ~TestCertificates() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  std::string Path(const std::string& file) const { return (dir_ / file).string(); }
  std::string Read(const std::string& file) const { return ReadFile(dir_ / file); }

 private:
  void Openssl(const std::vector<std::string>& args) {
    test_support::RunResult result = test_support::RunToCompletion("openssl", args, {}, 60s, dir_.string());
    if (result.exit_code != 0) throw std::runtime_error("openssl failed: " + result.output);
  }

  std::filesystem::path dir_;
};

class PostServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = PgCluster::Start(); }
  static void TearDownTestSuite() { cluster_.reset(); }

  void SetUp() override { ASSERT_NE(cluster_, nullptr) << "PostgreSQL did not start"; }

  static PgCluster& pg() { return *cluster_; }

  // Starts the real user-service and post-service, each on a fresh database.
  void StartServices() {
    user_db_ = test_support::PrepareUserDatabase(pg());
    users_ = std::make_unique<ServiceProcess>(USER_SERVICE_BIN, UserServiceEnv());
    user_stub_ = UserService::NewStub(users_->NewChannel());
    StartPostService(users_->address());
  }

  // Starts post-service on a fresh database, with user-service at
  // `user_service_address`.
  void StartPostService(const std::string& user_service_address, EnvVars extra_env = {}) {
    post_db_ = test_support::PreparePostDatabase(pg());
    EnvVars env = {{"POST_DATABASE_URL", post_db_.service_url},
                   {"USER_SERVICE_ADDR", user_service_address},
                   {"HEALTH_CHECK_INTERVAL_MS", "100"}};
    for (auto& [key, value] : extra_env) env[key] = value;
    posts_ = std::make_unique<ServiceProcess>(POST_SERVICE_BIN, env);
    stub_ = PostService::NewStub(posts_->NewChannel());
  }

  EnvVars UserServiceEnv() const {
    return {{"USER_DATABASE_URL", user_db_.service_url}, {"HEALTH_CHECK_INTERVAL_MS", "100"}};
  }

  // Creates a user through user-service; returns its id.
  int64_t CreateUser(const std::string& name) {
    microblog::user::v1::CreateUserRequest request;
    request.set_username(name);
    request.set_email(name + "@example.com");
    request.set_password("correct horse battery staple");
    microblog::user::v1::CreateUserResponse response;
    grpc::Status status = user_stub_->CreateUser(NewContext().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.user().id();
  }

  grpc::Status CreatePost(int64_t user_id, const std::string& body,
                          const std::string& request_id = "", Post* post = nullptr,
                          PostService::Stub* stub = nullptr) {
    CreatePostRequest request;
    request.set_user_id(user_id);
    request.set_body(body);
    request.set_request_id(request_id);
    CreatePostResponse response;
    grpc::Status status =
        (stub ? stub : stub_.get())->CreatePost(NewContext().get(), request, &response);
    if (post != nullptr) *post = response.post();
    return status;
  }

  grpc::Status GetPost(int64_t id, Post* post = nullptr) {
    GetPostRequest request;
    request.set_id(id);
    GetPostResponse response;
    grpc::Status status = stub_->GetPost(NewContext().get(), request, &response);
    if (post != nullptr) *post = response.post();
    return status;
  }

  grpc::Status ListPosts(int64_t user_id, int32_t page_size, const std::string& token,
                         ListPostsResponse* response) {
    ListPostsRequest request;
    request.set_user_id(user_id);
    request.set_page_size(page_size);
    request.set_page_token(token);
    response->Clear();
    return stub_->ListPosts(NewContext().get(), request, response);
  }

  grpc::Status DeletePost(int64_t id) {
    DeletePostRequest request;
    request.set_id(id);
    DeletePostResponse response;
    return stub_->DeletePost(NewContext().get(), request, &response);
  }

  // Runs `sql` on post-service's database as the superuser.
  pqxx::result QueryPosts(const std::string& sql) {
    pqxx::connection connection(post_db_.superuser_url);
    pqxx::nontransaction tx(connection);
    return tx.exec(sql);
  }
  int64_t CountPosts(const std::string& where = "true") {
    return QueryPosts("SELECT count(*) FROM posts WHERE " + where)[0][0].as<int64_t>();
  }
  // Post ids newest first, as the contract orders them.
  std::vector<int64_t> IdsNewestFirst(const std::string& where = "true") {
    std::vector<int64_t> ids;
    for (const auto& row :
         QueryPosts("SELECT id FROM posts WHERE " + where + " ORDER BY created_at DESC, id DESC")) {
      ids.push_back(row[0].as<int64_t>());
    }
    return ids;
  }

  // Walks every page of a listing with `page_size`, calling `between_pages`
  // after each page; returns the posts in the order received.
  std::vector<Post> WalkAllPages(int64_t user_id, int32_t page_size,
                                 const std::function<void()>& between_pages) {
    std::vector<Post> seen;
    std::string token;
    for (int page = 0; page < 1000; ++page) {
      ListPostsResponse response;
      grpc::Status status = ListPosts(user_id, page_size, token, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      EXPECT_LE(response.posts_size(), page_size);
      seen.insert(seen.end(), response.posts().begin(), response.posts().end());
      token = response.next_page_token();
      if (token.empty()) break;
      between_pages();
    }
    EXPECT_TRUE(token.empty()) << "the walk did not end";
    return seen;
  }

  // Sends kConcurrentRetries CreatePost calls with one request_id at once,
  // each on its own connection, and checks that they all got the same post
  // and that the database holds exactly one.
  void ExpectConcurrentRetriesStoreOnePost(int64_t user_id) {
    constexpr int n = kConcurrentRetries;
    std::vector<grpc::Status> statuses(n);
    std::vector<Post> posts(n);
    std::vector<std::unique_ptr<PostService::Stub>> stubs;
    for (int i = 0; i < n; ++i) {
      std::shared_ptr<grpc::Channel> channel = posts_->NewChannel();
      // Connected beforehand, so that the calls really overlap.
      ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + kCallTimeout));
      stubs.push_back(PostService::NewStub(channel));
    }
    // Concurrent reads first make post-service open its database
    // connections, so that connecting does not space the inserts out.
    std::vector<std::thread> warm_up;
    for (int i = 0; i < 16; ++i) {
      warm_up.emplace_back([&, i] {
        for (int round = 0; round < 5; ++round) {
          ListPostsResponse response;
          EXPECT_TRUE(stubs[i]->ListPosts(NewContext().get(), {}, &response).ok());
        }
      });
    }
    for (std::thread& thread : warm_up) thread.join();

    std::mutex mu;
    std::condition_variable go;
    bool started = false;
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        {
          std::unique_lock<std::mutex> lock(mu);
          go.wait(lock, [&] { return started; });
        }
        statuses[i] = CreatePost(user_id, "said once", "req-0001", &posts[i], stubs[i].get());
      });
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      started = true;
    }
    go.notify_all();
    for (std::thread& thread : threads) thread.join();

    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
      EXPECT_EQ(posts[i].SerializeAsString(), posts[0].SerializeAsString()) << i;
    }
    EXPECT_EQ(CountPosts("request_id = 'req-0001'"), 1);
    EXPECT_EQ(CountPosts(), 1);
    EXPECT_EQ(QueryPosts("SELECT id FROM posts")[0][0].as<int64_t>(), posts[0].id());

    // A later retry still gets the first post.
    Post again;
    ASSERT_TRUE(CreatePost(user_id, "said once", "req-0001", &again).ok());
    EXPECT_EQ(again.id(), posts[0].id());
    EXPECT_EQ(CountPosts(), 1);
  }

  inline static std::unique_ptr<PgCluster> cluster_;
  MigratedDatabase user_db_;
  MigratedDatabase post_db_;
  std::unique_ptr<ServiceProcess> users_;
  std::unique_ptr<ServiceProcess> posts_;
  std::unique_ptr<UserService::Stub> user_stub_;
  std::unique_ptr<PostService::Stub> stub_;
};

// --- CreatePost, GetPost, DeletePost ---------------------------------------------

TEST_F(PostServiceTest, CreatedPostCanBeReadBackAndDeleted) {
  StartServices();
  const int64_t alice = CreateUser("alice");

  Post created;
  const auto before = std::chrono::system_clock::now();
  grpc::Status status = CreatePost(alice, "hello, world", "", &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(created.id(), 0);
  EXPECT_EQ(created.user_id(), alice);
  EXPECT_EQ(created.body(), "hello, world");
  // Server clock, in the window of the call (a minute of slack: clocks are
  // the same machine's, this only catches an unset or garbage time).
  const int64_t before_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(before.time_since_epoch()).count();
  EXPECT_GT(Micros(created.create_time()), before_micros - 60'000'000);
  EXPECT_LT(Micros(created.create_time()), before_micros + 60'000'000);

  Post read;
  status = GetPost(created.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(read.SerializeAsString(), created.SerializeAsString());
  EXPECT_EQ(CountPosts(), 1);

  status = DeletePost(created.id());
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(CountPosts(), 0);
  EXPECT_EQ(GetPost(created.id()).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Author checks, inserts and reads are batched under concurrency: each call
// must still get exactly its own outcome, and every acknowledged post must
// be stored once.
TEST_F(PostServiceTest, ConcurrentCreatesAndReadsEachGetTheirOwnAnswer) {
  StartServices();
  const int64_t authors[] = {CreateUser("alice"), CreateUser("bob")};
  constexpr int64_t kUnknownAuthor = 999999;
  constexpr int kThreads = 32;
  constexpr int kCallsEach = 6;

  struct Outcome {
    int64_t user_id;
    std::string body;
    std::string request_id;
    grpc::Status status;
    Post post;
  };
  std::vector<Outcome> outcomes(kThreads * kCallsEach);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kCallsEach; ++k) {
        Outcome& o = outcomes[t * kCallsEach + k];
        o.user_id = k % 3 == 0 ? kUnknownAuthor : authors[(t + k) % 2];
        o.body = "thread " + std::to_string(t) + " post " + std::to_string(k);
        // One request_id shared by every thread, each with its own body:
        // exactly one of them may win it.
        o.request_id = k == 1 ? "shared-key" : "";
        o.status = CreatePost(o.user_id, o.body, o.request_id, &o.post);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  int stored = 0;
  int shared_key_wins = 0;
  for (const Outcome& o : outcomes) {
    if (o.user_id == kUnknownAuthor) {
      ASSERT_EQ(o.status.error_code(), grpc::StatusCode::NOT_FOUND) << o.body;
      std::optional<google::rpc::ResourceInfo> info = ResourceInfoOf(o.status);
      ASSERT_TRUE(info.has_value());
      EXPECT_EQ(info->resource_name(), std::to_string(kUnknownAuthor));
    } else if (!o.request_id.empty() && !o.status.ok()) {
      EXPECT_EQ(o.status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << o.body;
    } else {
      ASSERT_TRUE(o.status.ok()) << o.body << ": " << o.status.error_message();
      EXPECT_EQ(o.post.user_id(), o.user_id);
      EXPECT_EQ(o.post.body(), o.body);
      ++stored;
      if (!o.request_id.empty()) ++shared_key_wins;
    }
  }
  EXPECT_EQ(shared_key_wins, 1);
  EXPECT_EQ(CountPosts(), stored);

  // Read every stored post back, concurrently: batched reads too.
  std::vector<std::thread> readers;
  for (int t = 0; t < kThreads; ++t) {
    readers.emplace_back([&, t] {
      for (int k = 0; k < kCallsEach; ++k) {
        const Outcome& o = outcomes[t * kCallsEach + k];
        if (!o.status.ok()) continue;
        Post read;
        grpc::Status status = GetPost(o.post.id(), &read);
        ASSERT_TRUE(status.ok()) << status.error_message();
        EXPECT_EQ(read.SerializeAsString(), o.post.SerializeAsString());
      }
    });
  }
  for (std::thread& thread : readers) thread.join();

  // First pages of both authors' posts, concurrently and with different
  // page sizes (also batched): each the newest of its own author.
  std::map<int64_t, std::vector<int64_t>> newest;
  for (int64_t author : authors) {
    newest[author] = IdsNewestFirst("user_id = " + std::to_string(author));
  }
  std::vector<std::thread> listers;
  for (int t = 0; t < kThreads; ++t) {
    listers.emplace_back([&, t] {
      const int64_t author = authors[t % 2];
      const int page_size = 1 + t % 7;
      for (int round = 0; round < 5; ++round) {
        ListPostsResponse response;
        grpc::Status status = ListPosts(author, page_size, "", &response);
        ASSERT_TRUE(status.ok()) << status.error_message();
        std::vector<int64_t> ids;
        for (const Post& post : response.posts()) ids.push_back(post.id());
        const std::vector<int64_t>& all = newest[author];
        const std::size_t n = std::min<std::size_t>(page_size, all.size());
        EXPECT_EQ(ids, std::vector<int64_t>(all.begin(), all.begin() + n));
        EXPECT_EQ(response.next_page_token().empty(), all.size() <= n);
      }
    });
  }
  for (std::thread& thread : listers) thread.join();
}

TEST_F(PostServiceTest, MissingPostIsNotFoundNamingIt) {
  StartServices();
  for (grpc::Status status : {GetPost(424242), DeletePost(424242)}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
    std::optional<google::rpc::ResourceInfo> info = ResourceInfoOf(status);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->resource_type(), "post");
    EXPECT_EQ(info->resource_name(), "424242");
  }
  for (grpc::Status status : {GetPost(0), DeletePost(-3)}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"id"});
  }
}

TEST_F(PostServiceTest, UnknownAuthorIsNotFoundNamingTheUser) {
  StartServices();
  grpc::Status status = CreatePost(987654, "who am I?");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  std::optional<google::rpc::ResourceInfo> info = ResourceInfoOf(status);
  ASSERT_TRUE(info.has_value()) << "NOT_FOUND without a google.rpc.ResourceInfo detail";
  EXPECT_EQ(info->resource_type(), "user");
  EXPECT_EQ(info->resource_name(), "987654");
  EXPECT_EQ(CountPosts(), 0);
}

TEST_F(PostServiceTest, DeletedAuthorIsRefusedButTheirPostsStay) {
  StartServices();
  const int64_t bob = CreateUser("bob");
  Post old_post;
  ASSERT_TRUE(CreatePost(bob, "before leaving", "", &old_post).ok());

  microblog::user::v1::DeleteUserRequest request;
  request.set_id(bob);
  microblog::user::v1::DeleteUserResponse response;
  ASSERT_TRUE(user_stub_->DeleteUser(NewContext().get(), request, &response).ok());

  grpc::Status status = CreatePost(bob, "after leaving");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  std::optional<google::rpc::ResourceInfo> info = ResourceInfoOf(status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->resource_name(), std::to_string(bob));
  // No author cache: the very next post is refused, and old posts are kept.
  EXPECT_TRUE(GetPost(old_post.id()).ok());
  EXPECT_EQ(CountPosts(), 1);
}

TEST_F(PostServiceTest, MaxDeadlineCapsWhatTheCallerAllows) {
  FakeUserServer fake;
  fake.service().set_delay(120s);
  // The caller allows 30 s and the author check 60 s: only MAX_DEADLINE_MS
  // (300 ms) can end the call early.
  StartPostService(fake.address(),
                   {{"USER_SERVICE_TIMEOUT_MS", "60000"}, {"MAX_DEADLINE_MS", "300"}});
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status = CreatePost(FakeUserService::kKnownUser, "in a hurry");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // Not a speed assertion: 20 s is far above the cap and far below the
  // caller's 30 s, so only the cap can explain an answer in that window.
  EXPECT_LT(elapsed, 20s);
  EXPECT_EQ(CountPosts(), 0);
}

// --- Validation --------------------------------------------------------------------

TEST_F(PostServiceTest, BodyLimitsCountCharactersNotBytes) {
  StartServices();
  const int64_t alice = CreateUser("alice");

  Post post;
  grpc::Status status = CreatePost(alice, std::string(140, 'a'), "", &post);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // 'é' is two bytes: 140 of them are 280 bytes but 140 characters.
  const std::string e_acute = "\xc3\xa9";
  status = CreatePost(alice, Repeat(e_acute, 140), "", &post);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(post.body(), Repeat(e_acute, 140));
  Post read;
  ASSERT_TRUE(GetPost(post.id(), &read).ok());
  EXPECT_EQ(read.body(), Repeat(e_acute, 140));
  // Four-byte characters (U+1F600) as well.
  EXPECT_TRUE(CreatePost(alice, Repeat("\xf0\x9f\x98\x80", 140)).ok());
  EXPECT_EQ(CountPosts(), 3);

  const std::vector<std::string> bad_bodies = {
      std::string(141, 'a'),
      Repeat(e_acute, 141),
      "",
      " \t\n  ",
      "\xe3\x80\x80\xc2\xa0",  // U+3000 ideographic space, U+00A0 no-break space
  };
  for (const std::string& body : bad_bodies) {
    status = CreatePost(alice, body);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "body: " << body;
    EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"body"}) << "body: " << body;
  }
  EXPECT_EQ(CountPosts(), 3);
}

TEST_F(PostServiceTest, EveryBadFieldIsReportedBeforeAnyCallToUserService) {
  FakeUserServer fake;
  StartPostService(fake.address());

  CreatePostRequest request;
  request.set_user_id(-1);
  request.set_body("   ");
  request.set_request_id(std::string(65, 'r'));
  CreatePostResponse response;
  grpc::Status status = stub_->CreatePost(NewContext().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<std::string> fields = ViolatedFields(status);
  std::sort(fields.begin(), fields.end());
  EXPECT_EQ(fields, (std::vector<std::string>{"body", "request_id", "user_id"}));
  EXPECT_EQ(fake.service().calls(), 0);

  // 64 characters (multi-byte ones count once) is the longest request_id.
  EXPECT_TRUE(CreatePost(FakeUserService::kKnownUser, "ok", Repeat("\xc3\xa9", 64)).ok());
  EXPECT_EQ(CreatePost(FakeUserService::kKnownUser, "ok", Repeat("\xc3\xa9", 65)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// --- Idempotency ---------------------------------------------------------------------

TEST_F(PostServiceTest, ConcurrentRetriesWithOneRequestIdStoreOnePost) {
  StartServices();
  ExpectConcurrentRetriesStoreOnePost(CreateUser("alice"));
}

// The same race, sharpened: the fake user-service answers slowly, so the 50
// author checks queue up and are answered together, in a batch or two, and
// the inserts reach the database together.
TEST_F(PostServiceTest, RetriesReachingTheDatabaseTogetherStoreOnePost) {
  FakeUserServer fake;
  StartPostService(fake.address());
  fake.service().set_delay(300ms);
  ExpectConcurrentRetriesStoreOnePost(FakeUserService::kKnownUser);
  // Batched: far fewer calls to user-service than checks.
  EXPECT_LT(fake.service().calls(), kConcurrentRetries / 2);
}

TEST_F(PostServiceTest, RequestIdReusedForAnotherPostIsAlreadyExists) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  const int64_t bob = CreateUser("bob");
  ASSERT_TRUE(CreatePost(alice, "first", "key-1").ok());

  grpc::Status status = CreatePost(alice, "second", "key-1");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(status.error_message().find("request_id"), std::string::npos)
      << status.error_message();
  status = CreatePost(bob, "first", "key-1");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(CountPosts(), 1);

  // Without a request_id, equal posts are distinct posts.
  EXPECT_TRUE(CreatePost(alice, "first").ok());
  EXPECT_TRUE(CreatePost(alice, "first").ok());
  EXPECT_EQ(CountPosts(), 3);
}

// --- ListPosts -------------------------------------------------------------------------

// Keeps the posts of `seen` that are in `old` (in order) and checks that none
// came twice.
std::vector<int64_t> OldIdsInOrder(const std::vector<Post>& seen, const std::vector<int64_t>& old) {
  const std::set<int64_t> old_set(old.begin(), old.end());
  std::set<int64_t> unique;
  std::vector<int64_t> kept;
  for (const Post& post : seen) {
    EXPECT_TRUE(unique.insert(post.id()).second) << "post " << post.id() << " came twice";
    if (old_set.count(post.id()) > 0) kept.push_back(post.id());
  }
  return kept;
}

// Received posts are newest first by (create_time, id).
void ExpectNewestFirst(const std::vector<Post>& seen) {
  for (std::size_t i = 1; i < seen.size(); ++i) {
    const auto previous = std::make_pair(Micros(seen[i - 1].create_time()), seen[i - 1].id());
    const auto current = std::make_pair(Micros(seen[i].create_time()), seen[i].id());
    EXPECT_GT(previous, current) << "at position " << i;
  }
}

TEST_F(PostServiceTest, PagesNeverSkipNorRepeatWhileNewPostsArrive) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  const int64_t bob = CreateUser("bob");

  // 200 posts through the API (two authors, interleaved), and 50 written
  // directly with timestamps the API cannot produce: 25 sharing one instant
  // (the order then rests on the id) and 25 one microsecond apart (the
  // token must keep full precision).
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(CreatePost(i % 3 == 0 ? bob : alice, "post " + std::to_string(i)).ok());
  }
  QueryPosts("INSERT INTO posts (user_id, body, created_at) SELECT " + std::to_string(alice) +
             ", 'tied ' || g, timestamptz '2024-05-01 10:00:00.123457+00' "
             "FROM generate_series(1, 25) g");
  QueryPosts("INSERT INTO posts (user_id, body, created_at) SELECT CASE WHEN g % 2 = 0 THEN " +
             std::to_string(alice) + " ELSE " + std::to_string(bob) +
             " END, 'close ' || g, timestamptz '2024-05-01 10:00:00.123457+00' + "
             "g * interval '1 microsecond' FROM generate_series(1, 25) g");
  ASSERT_EQ(CountPosts(), 250);

  int written_between_pages = 0;
  auto write_one = [&] {
    ++written_between_pages;
    ASSERT_TRUE(CreatePost(written_between_pages % 2 ? alice : bob, "new").ok());
  };

  {
    SCOPED_TRACE("everyone's posts");
    const std::vector<int64_t> old = IdsNewestFirst();
    const std::vector<Post> seen = WalkAllPages(0, 7, write_one);
    EXPECT_EQ(OldIdsInOrder(seen, old), old);
    ExpectNewestFirst(seen);
  }
  {
    SCOPED_TRACE("alice's posts");
    const std::string mine = "user_id = " + std::to_string(alice);
    const std::vector<int64_t> old = IdsNewestFirst(mine);
    const std::vector<Post> seen = WalkAllPages(alice, 9, write_one);
    EXPECT_EQ(OldIdsInOrder(seen, old), old);
    ExpectNewestFirst(seen);
    for (const Post& post : seen) EXPECT_EQ(post.user_id(), alice);
  }
  EXPECT_GT(written_between_pages, 30);
}

TEST_F(PostServiceTest, PageSizeDefaultsClampsAndRejectsNegative) {
  StartServices();
  QueryPosts("INSERT INTO posts (user_id, body) SELECT 1, 'p' || g FROM generate_series(1, 130) g");

  ListPostsResponse response;
  ASSERT_TRUE(ListPosts(0, 0, "", &response).ok());
  EXPECT_EQ(response.posts_size(), 20);
  EXPECT_FALSE(response.next_page_token().empty());

  ASSERT_TRUE(ListPosts(0, 1000, "", &response).ok());
  EXPECT_EQ(response.posts_size(), 100);
  ASSERT_TRUE(ListPosts(0, 100, response.next_page_token(), &response).ok());
  EXPECT_EQ(response.posts_size(), 30);
  EXPECT_TRUE(response.next_page_token().empty());

  // A page that ends exactly at the last post has no next token.
  ASSERT_TRUE(ListPosts(0, 65, "", &response).ok());
  ASSERT_TRUE(ListPosts(0, 65, response.next_page_token(), &response).ok());
  EXPECT_EQ(response.posts_size(), 65);
  EXPECT_TRUE(response.next_page_token().empty());

  grpc::Status status = ListPosts(0, -1, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"page_size"});

  // An author without posts: an empty last page.
  ASSERT_TRUE(ListPosts(99, 0, "", &response).ok());
  EXPECT_EQ(response.posts_size(), 0);
  EXPECT_TRUE(response.next_page_token().empty());
}

TEST_F(PostServiceTest, MalformedOrForeignPageTokensAreInvalidArgument) {
  StartServices();
  QueryPosts("INSERT INTO posts (user_id, body) SELECT 1 + g % 2, 'p' || g "
             "FROM generate_series(1, 10) g");
  ListPostsResponse everyone;
  ASSERT_TRUE(ListPosts(0, 3, "", &everyone).ok());
  ListPostsResponse ones;
  ASSERT_TRUE(ListPosts(1, 2, "", &ones).ok());
  ASSERT_FALSE(everyone.next_page_token().empty());
  ASSERT_FALSE(ones.next_page_token().empty());

  ListPostsResponse response;
  const std::vector<std::pair<int64_t, std::string>> bad = {
      {0, "not a token"},
      {0, everyone.next_page_token().substr(0, everyone.next_page_token().size() / 2)},
      {0, "!" + everyone.next_page_token()},
      {0, ones.next_page_token()},      // issued for user 1
      {2, ones.next_page_token()},      // issued for user 1
      {1, everyone.next_page_token()},  // issued for everyone
  };
  for (const auto& [user_id, token] : bad) {
    grpc::Status status = ListPosts(user_id, 3, token, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "user_id " << user_id << " token " << token;
    EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"page_token"});
  }
  grpc::Status status = ListPosts(-1, 3, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"user_id"});

  // The right pairing works.
  EXPECT_TRUE(ListPosts(1, 2, ones.next_page_token(), &response).ok());
}

// --- user-service going away and coming back ----------------------------------------

TEST_F(PostServiceTest, UserServiceDownRefusesCreatesButServesReadsAndStaysHealthy) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  Post kept;
  ASSERT_TRUE(CreatePost(alice, "before the outage", "", &kept).ok());
  const std::string address = users_->address();

  users_->Signal(SIGKILL);
  ASSERT_TRUE(users_->WaitExit(10s).has_value());

  // The author cannot be checked: UNAVAILABLE, promptly (the call returns
  // within its generous deadline rather than hanging), and nothing stored.
  grpc::Status status = CreatePost(alice, "during the outage");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // The channel's own message (internal addresses) stays in the log.
  EXPECT_EQ(status.error_message(), "user-service unavailable; retry later");
  EXPECT_NE(posts_->output().find("author check failed"), std::string::npos);
  status = CreatePost(alice, "during the outage", "retry-me");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(CountPosts(), 1);
  // Validation still comes first.
  EXPECT_EQ(CreatePost(alice, " ").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Reads do not need user-service, and readiness does not depend on it.
  Post read;
  EXPECT_TRUE(GetPost(kept.id(), &read).ok());
  ListPostsResponse page;
  ASSERT_TRUE(ListPosts(alice, 0, "", &page).ok());
  EXPECT_EQ(page.posts_size(), 1);
  EXPECT_EQ(posts_->CheckHealth(), HealthStatus::SERVING);

  // user-service comes back on the same address: post-service reconnects by
  // itself (its channel was never rebuilt).
  EnvVars env = UserServiceEnv();
  env["LISTEN_ADDRESS"] = address;
  ChildProcess restarted(USER_SERVICE_BIN, {}, env);
  ASSERT_TRUE(test_support::WaitUntilServing(address, kWaitTimeout)) << restarted.ReadOutput();
  const auto until = std::chrono::steady_clock::now() + kWaitTimeout;
  do {
    status = CreatePost(alice, "after the outage", "retry-me");
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    std::this_thread::sleep_for(100ms);
  } while (std::chrono::steady_clock::now() < until);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(CountPosts(), 2);
  EXPECT_TRUE(posts_->Running());
}

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

TEST_F(PostServiceTest, SlowUserServiceIsUnavailableWithinTheCheckTimeout) {
  FakeUserServer fake;
  fake.service().set_delay(120s);
  // The caller allows 30 s and the server 60 s: only USER_SERVICE_TIMEOUT_MS
  // can end the check early, which makes the answer UNAVAILABLE rather than
  // the client's own DEADLINE_EXCEEDED.
  StartPostService(fake.address(),
                   {{"USER_SERVICE_TIMEOUT_MS", "300"}, {"MAX_DEADLINE_MS", "60000"}});
  grpc::Status status = CreatePost(FakeUserService::kKnownUser, "anyone there?");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_NE(status.error_message().find("user-service"), std::string::npos);
  EXPECT_EQ(CountPosts(), 0);
}

TEST_F(PostServiceTest, UnavailableAnswersOfUserServiceAreRetriedByTheChannel) {
  FakeUserServer fake;
  StartPostService(fake.address());
  fake.service().FailNext(1);
  grpc::Status status = CreatePost(FakeUserService::kKnownUser, "second time lucky");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(fake.service().calls(), 2);

  // The retry budget is finite: a user-service that keeps failing yields
  // UNAVAILABLE, never a post.
  fake.service().FailNext(1000);
  status = CreatePost(FakeUserService::kKnownUser, "never stored");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(CountPosts(), 1);
}

TEST_F(PostServiceTest, TraceContextIsForwardedToUserService) {
  FakeUserServer fake;
  StartPostService(fake.address());
  CreatePostRequest request;
  request.set_user_id(FakeUserService::kKnownUser);
  request.set_body("traced");
  CreatePostResponse response;
  auto context = NewContext();
  context->AddMetadata("traceparent", kTraceparent);
  context->AddMetadata("tracestate", kTracestate);
  grpc::Status status = stub_->CreatePost(context.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::string> seen = fake.service().last_metadata();
  EXPECT_EQ(seen["traceparent"], kTraceparent);
  EXPECT_EQ(seen["tracestate"], kTracestate);

  // Nothing is invented when the caller sent none.
  ASSERT_TRUE(CreatePost(FakeUserService::kKnownUser, "untraced").ok());
  seen = fake.service().last_metadata();
  EXPECT_EQ(seen.count("traceparent"), 0u);
  EXPECT_EQ(seen.count("tracestate"), 0u);
}

TEST_F(PostServiceTest, TraceContextReachesTheRealUserServiceLog) {
  StartServices();
  const int64_t alice = CreateUser("tracy");
  CreatePostRequest request;
  request.set_user_id(alice);
  request.set_body("traced end to end");
  CreatePostResponse response;
  auto context = NewContext();
  context->AddMetadata("traceparent", kTraceparent);
  ASSERT_TRUE(stub_->CreatePost(context.get(), request, &response).ok());
  // Both services' per-RPC log lines carry the caller's trace context.
  const std::string logged = std::string("\"traceparent\":\"") + kTraceparent + "\"";
  EXPECT_NE(posts_->output().find(logged), std::string::npos) << posts_->output();
  // user-service logged its BatchGetUsers before answering it, so before
  // post-service answered us (stderr is unbuffered).
  const std::string user_log = users_->output();
  EXPECT_NE(user_log.find(logged), std::string::npos) << user_log;
  EXPECT_NE(user_log.find("/microblog.user.v1.UserService/BatchGetUsers"), std::string::npos);
}

TEST_F(PostServiceTest, ResolvesUserServiceThroughDnsTargets) {
  FakeUserServer fake;
  // localhost may resolve to ::1 as well, where nothing listens: round-robin
  // only uses the addresses that connect.
  const std::string port = fake.address().substr(fake.address().rfind(':') + 1);
  StartPostService("dns:///localhost:" + port);
  grpc::Status status = CreatePost(FakeUserService::kKnownUser, "resolved");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(fake.service().calls(), 1);
}

TEST_F(PostServiceTest, ChecksAuthorsOverMutualTls) {
  TestCertificates certs;
  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = certs.Read("ca.crt");
  tls.pem_key_cert_pairs.push_back({certs.Read("server.key"), certs.Read("server.crt")});
  FakeUserServer fake(grpc::SslServerCredentials(tls));

  StartPostService(fake.address(), {{"USER_SERVICE_TLS_CA_FILE", certs.Path("ca.crt")},
                                    {"USER_SERVICE_TLS_CERT_FILE", certs.Path("client.crt")},
                                    {"USER_SERVICE_TLS_KEY_FILE", certs.Path("client.key")}});
  grpc::Status status = CreatePost(FakeUserService::kKnownUser, "over TLS");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(fake.service().calls(), 1);

  // Without a client certificate the server refuses the handshake: the
  // author cannot be checked, and the call says so.
  posts_.reset();
  StartPostService(fake.address(), {{"USER_SERVICE_TLS_CA_FILE", certs.Path("ca.crt")}});
  status = CreatePost(FakeUserService::kKnownUser, "no client certificate");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(fake.service().calls(), 1);
}

TEST_F(PostServiceTest, RealServicesTalkOverMutualTls) {
  // user-service itself serves TLS and requires client certificates
  // (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE); post-service presents
  // its own (USER_SERVICE_TLS_*).
  TestCertificates certs;
  user_db_ = test_support::PrepareUserDatabase(pg());
  EnvVars env = UserServiceEnv();
  const std::string address = "127.0.0.1:" + std::to_string(test_support::FreeTcpPort());
  env["LISTEN_ADDRESS"] = address;
  env["TLS_CERT_FILE"] = certs.Path("server.crt");
  env["TLS_KEY_FILE"] = certs.Path("server.key");
  env["TLS_CLIENT_CA_FILE"] = certs.Path("ca.crt");
  ChildProcess users(USER_SERVICE_BIN, {}, env);
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = certs.Read("ca.crt");
  with_cert.pem_cert_chain = certs.Read("client.crt");
  with_cert.pem_private_key = certs.Read("client.key");
  ASSERT_TRUE(test_support::WaitUntilServing(address, kWaitTimeout, grpc::SslCredentials(with_cert)))
      << users.ReadOutput();

  // Neither plaintext nor TLS without a client certificate gets through.
  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = certs.Read("ca.crt");
  for (const auto& credentials :
       {grpc::InsecureChannelCredentials(), grpc::SslCredentials(without_cert)}) {
    auto stub = UserService::NewStub(grpc::CreateChannel(address, credentials));
    microblog::user::v1::GetUserRequest request;
    request.set_id(1);
    microblog::user::v1::GetUserResponse response;
    EXPECT_EQ(stub->GetUser(NewContext().get(), request, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }

  user_stub_ = UserService::NewStub(grpc::CreateChannel(address, grpc::SslCredentials(with_cert)));
  const int64_t author = CreateUser("tess");
  StartPostService(address, {{"USER_SERVICE_TLS_CA_FILE", certs.Path("ca.crt")},
                             {"USER_SERVICE_TLS_CERT_FILE", certs.Path("client.crt")},
                             {"USER_SERVICE_TLS_KEY_FILE", certs.Path("client.key")}});
  grpc::Status status = CreatePost(author, "checked over mutual TLS");
  EXPECT_TRUE(status.ok()) << status.error_message();
  status = CreatePost(author + 1000, "unknown author, over mutual TLS");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
}

TEST_F(PostServiceTest, RefusesToStartWithHalfAClientCertificate) {
  TestCertificates certs;
  post_db_ = test_support::PreparePostDatabase(pg());
  test_support::RunResult result = test_support::RunToCompletion(
      POST_SERVICE_BIN, {},
      {{"POST_DATABASE_URL", post_db_.service_url},
       {"LISTEN_ADDRESS", "127.0.0.1:" + std::to_string(test_support::FreeTcpPort())},
       {"USER_SERVICE_TLS_CERT_FILE", certs.Path("client.crt")}},
      kCallTimeout);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("USER_SERVICE_TLS_KEY_FILE"), std::string::npos) << result.output;
}

// --- post-service's database restarting under load --------------------------------

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
  const auto until = std::chrono::steady_clock::now() + kWaitTimeout;
  do {
    status = CreatePost(alice, "after the restart");
    if (status.ok()) break;
    std::this_thread::sleep_for(100ms);
  } while (std::chrono::steady_clock::now() < until);
  EXPECT_TRUE(status.ok()) << status.error_message();
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

TEST(PostServiceConfigTest, MissingDatabaseUrlIsAClearStartupError) {
  auto result = microblog::test_support::RunToCompletion(POST_SERVICE_BIN, {},
                                                    {{"POST_DATABASE_URL", ""}});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("POST_DATABASE_URL"), std::string::npos) << result.output;
}

TEST(PostServiceConfigTest, HelpListsEveryOptionWithDefaults) {
  auto result = microblog::test_support::RunToCompletion(POST_SERVICE_BIN, {"--help"});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  for (const std::string option :
       {"POST_DATABASE_URL", "USER_SERVICE_ADDR", "localhost:50051", "USER_SERVICE_TIMEOUT_MS",
        "USER_SERVICE_TLS_CA_FILE", "USER_SERVICE_TLS_CERT_FILE", "USER_SERVICE_TLS_KEY_FILE",
        "LISTEN_ADDRESS", "0.0.0.0:50052", "DB_POOL_SIZE", "MAX_DEADLINE_MS",
        "SHUTDOWN_GRACE_MS", "--user-service-addr"}) {
    EXPECT_NE(result.output.find(option), std::string::npos) << option << "\n" << result.output;
  }
}

}  // namespace
}  // namespace microblog
