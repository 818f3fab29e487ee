#include "e2e/both_services_fixture.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <grpcpp/server_builder.h>

#include "support/eventually.h"

#ifndef POST_SERVICE_BIN
#error "POST_SERVICE_BIN must be defined (path of the post-service binary)"
#endif
#ifndef USER_SERVICE_BIN
#error "USER_SERVICE_BIN must be defined (path of the user-service binary)"
#endif

namespace microblog {
namespace test_support {

using namespace std::chrono_literals;

const char* const kPostServiceBin = POST_SERVICE_BIN;
const char* const kUserServiceBin = USER_SERVICE_BIN;

std::unique_ptr<grpc::ClientContext> NewContext(std::chrono::system_clock::duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

std::unique_ptr<grpc::ClientContext> NewContextAs(int64_t user_id, int64_t credentials_version,
                                                  std::chrono::system_clock::duration timeout) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(timeout);
  AddBearer(*context, TestToken(user_id, credentials_version));
  return context;
}

int64_t Micros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

// --- FakeUserService, FakeUserServer ---

std::map<std::string, std::string> FakeUserService::last_metadata() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_metadata_;
}

grpc::Status FakeUserService::BatchGetUsers(
    grpc::ServerContext* context, const microblog::user::v1::BatchGetUsersRequest* request,
    microblog::user::v1::BatchGetUsersResponse* response) {
  ++calls_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_metadata_.clear();
    for (const auto& [key, value] : context->client_metadata()) {
      last_metadata_[std::string(key.data(), key.size())] = std::string(value.data(), value.size());
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

FakeUserServer::FakeUserServer(std::shared_ptr<grpc::ServerCredentials> credentials) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", credentials, &port);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) throw std::runtime_error("cannot start the fake user-service");
  address_ = "127.0.0.1:" + std::to_string(port);
}

FakeUserServer::~FakeUserServer() { server_->Shutdown(std::chrono::system_clock::now() + 1s); }

// --- BothServicesTest ---

void BothServicesTest::StartServices(EnvVars user_env, EnvVars post_env) {
  user_db_ = PrepareUserDatabase(pg());
  EnvVars env = UserServiceEnv();
  for (auto& [key, value] : user_env) env[key] = value;
  users_ = std::make_unique<ServiceProcess>(kUserServiceBin, env);
  user_stub_ = UserService::NewStub(users_->NewChannel());
  StartPostService(users_->address(), std::move(post_env));
}

void BothServicesTest::StartPostService(const std::string& user_service_address,
                                        EnvVars extra_env) {
  post_db_ = PreparePostDatabase(pg());
  user_service_address_ = user_service_address;
  posts_ = LaunchPostService(std::move(extra_env));
  stub_ = PostService::NewStub(posts_->NewChannel());
}

EnvVars BothServicesTest::PostServiceEnv(EnvVars extra_env) const {
  EnvVars env = DatabaseEnv(post_db_, "POST_DATABASE_URL");
  env["USER_SERVICE_ADDR"] = user_service_address_;
  env["HEALTH_CHECK_INTERVAL_MS"] = "100";
  // Plaintext, as scripts/up.sh runs them; the tests of mTLS say otherwise.
  env["TRANSPORT_SECURITY"] = "insecure";
  for (auto& [key, value] : extra_env) env[key] = value;
  return env;
}

std::unique_ptr<ServiceProcess> BothServicesTest::LaunchPostService(EnvVars extra_env) const {
  return std::make_unique<ServiceProcess>(kPostServiceBin, PostServiceEnv(std::move(extra_env)));
}

EnvVars BothServicesTest::UserServiceEnv() const {
  EnvVars env = DatabaseEnv(user_db_, "USER_DATABASE_URL");
  env["HEALTH_CHECK_INTERVAL_MS"] = "100";
  env["TRANSPORT_SECURITY"] = "insecure";  // as in PostServiceEnv
  AddDefaultTokenEnv(env);                 // for the tests that start it without ServiceProcess
  return env;
}

int64_t BothServicesTest::CreateUser(const std::string& name) {
  microblog::user::v1::CreateUserRequest request;
  request.set_username(name);
  request.set_email(name + "@example.com");
  request.set_password("correct horse battery staple");
  microblog::user::v1::CreateUserResponse response;
  grpc::Status status = user_stub_->CreateUser(NewContext().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.user().id();
}

grpc::Status BothServicesTest::DeleteUser(int64_t id) {
  microblog::user::v1::DeleteUserRequest request;
  request.set_id(id);
  microblog::user::v1::DeleteUserResponse response;
  std::unique_ptr<grpc::ClientContext> context = NewContext();
  AddBearer(*context, TestToken(id, CredentialsVersion(id)));
  return user_stub_->DeleteUser(context.get(), request, &response);
}

int64_t BothServicesTest::CredentialsVersion(int64_t user_id) {
  const pqxx::result rows =
      QueryUsers("SELECT credentials_version FROM users WHERE id = " + std::to_string(user_id));
  return rows.empty() ? 1 : rows[0][0].as<int64_t>();
}

pqxx::result BothServicesTest::QueryUsers(const std::string& sql) {
  pqxx::connection connection(user_db_.superuser_url);
  pqxx::nontransaction tx(connection);
  return tx.exec(sql);
}

grpc::Status BothServicesTest::CreatePost(int64_t user_id, const std::string& body,
                                          const std::string& request_id, Post* post,
                                          PostService::Stub* stub) {
  CreatePostRequest request;
  request.set_user_id(user_id);
  request.set_body(body);
  request.set_request_id(request_id);
  CreatePostResponse response;
  std::unique_ptr<grpc::ClientContext> context = NewContext();
  AddBearer(*context, TestToken(user_id));
  grpc::Status status = (stub ? stub : stub_.get())->CreatePost(context.get(), request, &response);
  if (post != nullptr) *post = response.post();
  return status;
}

grpc::Status BothServicesTest::GetPost(int64_t id, Post* post) {
  GetPostRequest request;
  request.set_id(id);
  GetPostResponse response;
  grpc::Status status = stub_->GetPost(NewContext().get(), request, &response);
  if (post != nullptr) *post = response.post();
  return status;
}

grpc::Status BothServicesTest::ListPosts(int64_t user_id, int32_t page_size,
                                         const std::string& token, ListPostsResponse* response) {
  ListPostsRequest request;
  request.set_user_id(user_id);
  request.set_page_size(page_size);
  request.set_page_token(token);
  response->Clear();
  return stub_->ListPosts(NewContext().get(), request, response);
}

grpc::Status BothServicesTest::DeletePost(int64_t id) {
  DeletePostRequest request;
  request.set_id(id);
  DeletePostResponse response;
  std::unique_ptr<grpc::ClientContext> context = NewContext();
  // As its author, when there is one (else any user: the answer is NOT_FOUND).
  const pqxx::result author =
      QueryPosts("SELECT user_id FROM posts WHERE id = " + std::to_string(id));
  AddBearer(*context, TestToken(author.empty() ? 1 : author[0][0].as<int64_t>()));
  return stub_->DeletePost(context.get(), request, &response);
}

pqxx::result BothServicesTest::QueryPosts(const std::string& sql) {
  pqxx::connection connection(post_db_.superuser_url);
  pqxx::nontransaction tx(connection);
  return tx.exec(sql);
}

int64_t BothServicesTest::CountPosts(const std::string& where) {
  return QueryPosts("SELECT count(*) FROM posts WHERE " + where)[0][0].as<int64_t>();
}

std::vector<int64_t> BothServicesTest::IdsNewestFirst(const std::string& where) {
  std::vector<int64_t> ids;
  for (const auto& row :
       QueryPosts("SELECT id FROM posts WHERE " + where + " ORDER BY created_at DESC, id DESC")) {
    ids.push_back(row[0].as<int64_t>());
  }
  return ids;
}

std::vector<BothServicesTest::Post> BothServicesTest::WalkAllPages(
    int64_t user_id, int32_t page_size, const std::function<void()>& between_pages) {
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

void BothServicesTest::ExpectConcurrentRetriesStoreOnePost(int64_t user_id) {
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

// Readers and writers keep calling through a restart of the cluster.
void BothServicesTest::ExpectDatabaseRestartUnderLoadIsUnavailableThenRecovers() {
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
  // (The outage itself is proven UNAVAILABLE by the calls made while the
  // database was down, above. The load may not see it: behind PgBouncer its
  // queries wait in the pooler's queue and are served after the restart.)
  EXPECT_GT(codes[grpc::StatusCode::OK], 0);
  // Nothing acknowledged is lost: every post a CreatePost answered OK for
  // is in the database after the restart.
  ASSERT_FALSE(acknowledged.empty());
  std::string ids;
  for (int64_t id : acknowledged) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  EXPECT_EQ(CountPosts("id IN (" + ids + ")"), static_cast<int64_t>(acknowledged.size()));
  EXPECT_TRUE(posts_->Running()) << posts_->output();
}

}  // namespace test_support
}  // namespace microblog
