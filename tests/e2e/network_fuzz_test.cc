// A network fuzzer of both services (issue #21, "a hostile client fails only
// itself"): for a bounded count and time it sends mutated valid requests of
// every RPC of user-service and post-service, and random bytes, through
// gRPC (grpc::GenericStub) to the real binaries on real PostgreSQL, and
// random bytes straight onto their TCP ports, while a good client keeps
// making real typed calls. It asserts that
//   - no fuzzed call gets INTERNAL or UNKNOWN (an offender's method and
//     request bytes are printed in hex, to replay it);
//   - every good call is OK;
//   - both services still run and answer their health checks SERVING;
//   - each service's resident memory (VmRSS) settles back near what it was
//     after a warm-up.
//
// Reproducing: the seed is printed at the start (and recorded as the test
// property `seed`); MICROBLOG_FUZZ_SEED=<seed> runs with it again. Each
// fuzzing thread draws its requests from seed + its index; which requests
// go to the Argon2id RPCs also depends on the other threads (their share is
// capped by a shared count), so the printed bytes are the reproducer.
//
// The good client's data is out of the fuzzer's reach: the fuzzer mutates
// requests naming the users and posts seeded first (small ids), while the
// identity sequences are moved to 2^40 before the good client's user and
// posts exist, so no mutation of a small id plausibly names them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include "e2e/both_services_fixture.h"
#include "microblog/post/v1/post_service.grpc.pb.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "support/child_process.h"
#include "support/eventually.h"
#include "support/proc_status.h"
#include "support/raw_rpc.h"

namespace microblog {
namespace test_support {
namespace {

using namespace std::chrono_literals;
using grpc::StatusCode;
namespace post_v1 = microblog::post::v1;
namespace user_v1 = microblog::user::v1;

// Bounds of the fuzzing phase: whichever comes first. Under the dev
// build's sanitizers on a shared 2-core machine, 3 threads make a few
// thousand calls in well under the time bound.
constexpr int kMaxCalls = 4000;
constexpr auto kMaxTime = 45s;
constexpr int kFuzzThreads = 3;
// Calls of the warm-up, before the memory baseline.
constexpr int kWarmUpCalls = 3000;
constexpr auto kMaxWarmUpTime = 30s;
// CreateUser, UpdateUser and VerifyPassword may hash a password with
// Argon2id (slow, more so under ASan): at most this many of them in all.
constexpr int kMaxHashingCalls = 40;
// One fuzzed call in this many is random bytes rather than a mutation.
constexpr int kRandomOneIn = 10;
constexpr auto kFuzzCallTimeout = 3s;
// Connections per service that get random bytes instead of gRPC.
constexpr int kGarbageConnections = 60;
// How far above its VmRSS after the warm-up a service may settle at the
// end. Measured (dev build, 3000 calls of warm-up then 4000, 4 seeds):
// user-service +7 to +18 MiB, post-service +13 to +19 MiB; a long run
// (40,000 calls) showed that growth levelling off at about +33 MiB over a
// fresh start (ASan's allocator regions and size-class caches filling, all
// reachable: LeakSanitizer at the graceful exit finds nothing). So the
// tolerance is about twice what was seen; growth that keeps going with the
// calls (about 10 KiB a call or more: queued or unreleased calls, buffers,
// connections) exceeds it. Leaks proper are LeakSanitizer's to find.
constexpr int64_t kRssToleranceKiB = 40 * 1024;
constexpr int kQuarantineMiB = 16;
constexpr auto kSettle = 2s;

constexpr char kPassword[] = "correct horse battery staple";
constexpr int64_t kOutOfReachId = int64_t{1} << 40;

const char* const kServices[] = {"microblog.user.v1.UserService", "microblog.post.v1.PostService"};

// One RPC: its path, the valid requests the mutations start from.
struct Method {
  std::string path;  // "/microblog.user.v1.UserService/GetUser"
  bool post_service = false;
  bool hashes = false;  // may run Argon2id
  std::vector<std::string> seeds;
};

// Byte-level mutations of serialized requests.
class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  int Below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  char RandomByte() { return static_cast<char>(Below(256)); }
  std::string RandomBytes(int max_length) {
    std::string bytes(static_cast<std::size_t>(Below(max_length + 1)), '\0');
    for (char& c : bytes) c = RandomByte();
    return bytes;
  }

  // 1-4 mutations of `bytes`; `others` gives splice partners.
  std::string Mutate(std::string bytes, const std::vector<const std::string*>& others) {
    for (int n = 1 + Below(4); n > 0; --n) MutateOnce(bytes, *others[Below(others.size())]);
    return bytes;
  }

 private:
  std::size_t Position(const std::string& bytes) { return Below(bytes.size() + 1); }

  void MutateOnce(std::string& bytes, const std::string& other) {
    static const char kInteresting[] = {'\x00', '\xff', '\x7f', '\x80', '\x01', '\xc0'};
    switch (Below(8)) {
      case 0:  // flip a bit
        if (!bytes.empty()) bytes[Below(bytes.size())] ^= static_cast<char>(1 << Below(8));
        break;
      case 1:  // an interesting byte in place of one
        if (!bytes.empty()) bytes[Below(bytes.size())] = kInteresting[Below(sizeof(kInteresting))];
        break;
      case 2:  // insert random bytes
        bytes.insert(Position(bytes), RandomBytes(8));
        break;
      case 3: {  // delete a range
        const std::size_t at = Position(bytes);
        bytes.erase(at, 1 + Below(8));
        break;
      }
      case 4:  // truncate
        bytes.resize(Position(bytes));
        break;
      case 5: {  // duplicate a range
        const std::size_t at = Position(bytes);
        const std::string piece = bytes.substr(at, 1 + Below(16));
        bytes.insert(Position(bytes), piece);
        break;
      }
      case 6:  // splice: a prefix of this one, a suffix of another request
        bytes = bytes.substr(0, Position(bytes)) + other.substr(Below(other.size() + 1));
        break;
      default: {  // append a field of a random number and wire type
        const int number = 1 + Below(20);
        const int wire_type = Below(6);
        bytes += static_cast<char>((number << 3) | wire_type);
        bytes += RandomBytes(12);
        break;
      }
    }
  }

  std::mt19937_64 rng_;
};

// A request sent to `path` whose answer was INTERNAL or UNKNOWN.
struct Offender {
  std::string path;
  std::string request;
  grpc::Status status;
};

class NetworkFuzzTest : public BothServicesTest {
 protected:
  // ASan keeps freed memory in a quarantine (256 MiB by default) that would
  // read as growth; a small one keeps VmRSS about live memory. So do its
  // fake stacks (detect_stack_use_after_return=1, which scripts/test.sh
  // sets), mapped per thread and filling in as gRPC's threads reach new
  // depths: +35 to +42 MiB at the default size (2^20 per size class), +6 to
  // +23 MiB capped at 2^16 (dev build, 3 seeds). Capped, they still catch a
  // use after return in all but the deepest frames, which fall back to the
  // real stack. LeakSanitizer on, whatever the test's own ASAN_OPTIONS say:
  // the services are stopped gracefully at the end, and it reports what they
  // leaked.
  static EnvVars SmallQuarantine() {
    const char* given = std::getenv("ASAN_OPTIONS");
    std::string options = given != nullptr ? given : "";
    if (!options.empty()) options += ":";
    options += "detect_leaks=1:max_uar_stack_size_log=16:quarantine_size_mb=" +
               std::to_string(kQuarantineMiB);
    return {{"ASAN_OPTIONS", options}};
  }

  void MoveIdentitiesOutOfReach() {
    QueryUsers("ALTER TABLE users ALTER COLUMN id RESTART WITH " + std::to_string(kOutOfReachId));
    QueryPosts("ALTER TABLE posts ALTER COLUMN id RESTART WITH " + std::to_string(kOutOfReachId));
  }

  // Users and posts the fuzzer's requests name, and valid requests of every
  // RPC of both services made from them.
  std::vector<Method> SeedMethods();

  // Typed calls that must all be OK, on the good client's own user and
  // posts. Records each failure in good_failures_.
  void GoodRound(UserService::Stub& users, PostService::Stub& posts, int round);
  void GoodFailure(const std::string& what, const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    ++good_failures_;
    if (good_failures_ <= 20) {
      ADD_FAILURE() << "good " << what << ": " << status.error_code() << " "
                    << status.error_message();
    }
  }

  // Fuzzes until `count` calls are made (over all threads) or `until`.
  void Fuzz(const std::vector<Method>& methods, uint64_t seed, int count,
            std::chrono::steady_clock::time_point until);
  // Random bytes straight onto both services' TCP ports.
  void SendGarbage(uint64_t seed);

  int64_t good_user_ = 0;
  std::string fuzz_token_;  // the access token of the seeds' first user
  std::string good_username_;

  std::mutex mu_;
  int good_failures_ = 0;                            // guarded by mu_
  int good_calls_ = 0;                               // guarded by mu_
  std::vector<Offender> offenders_;                  // guarded by mu_
  std::map<std::string, std::map<int, int>> codes_;  // path -> code -> count; guarded by mu_
  std::atomic<int> calls_{0};
  std::atomic<int> hashing_calls_{0};
};

std::vector<Method> NetworkFuzzTest::SeedMethods() {
  std::vector<int64_t> users;
  std::vector<std::string> user_tokens;
  for (const char* name : {"fz_ada", "fz_bea", "fz_cy", "fz_dee"}) {
    user_v1::CreateUserRequest request;
    request.set_username(name);
    request.set_email(std::string(name) + "@example.com");
    request.set_password(kPassword);
    user_v1::CreateUserResponse response;
    const grpc::Status status = user_stub_->CreateUser(NewContext().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    users.push_back(response.user().id());
    user_tokens.push_back(response.consistency_token());
  }
  fuzz_token_ = TestToken(users[0]);
  EXPECT_TRUE(DeleteUser(CreateUser("fz_gone")).ok());  // an event to list
  std::vector<int64_t> posts;
  std::string post_token;
  for (int i = 0; i < 8; ++i) {
    post_v1::CreatePostRequest request;
    request.set_user_id(users[i % 2]);
    request.set_body("seed post " + std::to_string(i));
    post_v1::CreatePostResponse response;
    const grpc::Status status =
        stub_->CreatePost(NewContextAs(request.user_id()).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    posts.push_back(response.post().id());
    post_token = response.consistency_token();
  }
  user_v1::ListUsersRequest list_users;
  list_users.set_page_size(2);
  user_v1::ListUsersResponse users_page;
  EXPECT_TRUE(user_stub_->ListUsers(NewContext().get(), list_users, &users_page).ok());
  user_v1::ListUserEventsRequest list_events;
  list_events.set_page_size(1);
  user_v1::ListUserEventsResponse events_page;
  EXPECT_TRUE(user_stub_->ListUserEvents(NewContext().get(), list_events, &events_page).ok());
  ListPostsResponse posts_page;
  EXPECT_TRUE(ListPosts(users[0], 2, "", &posts_page).ok());

  std::map<std::string, std::vector<std::string>> seeds;
  auto add = [&seeds](const std::string& method, const google::protobuf::Message& request) {
    seeds[method].push_back(request.SerializeAsString());
  };
  for (std::size_t i = 0; i < users.size(); ++i) {
    user_v1::GetUserRequest get;
    get.set_id(users[i]);
    add("GetUser", get);
    get.set_consistency_token(user_tokens[i]);
    add("GetUser", get);
    user_v1::LookupUserRequest lookup;
    lookup.set_username("fz_bea");
    add("LookupUser", lookup);
    lookup.set_email("fz_cy@example.com");
    lookup.set_consistency_token(user_tokens[i]);
    add("LookupUser", lookup);
    user_v1::DeleteUserRequest remove;
    remove.set_id(users[i]);
    add("DeleteUser", remove);
  }
  user_v1::CreateUserRequest create;
  create.set_username("fz_new");
  create.set_email("fz_new@example.com");
  create.set_password(kPassword);
  add("CreateUser", create);
  user_v1::ListUsersRequest list;
  list.set_page_size(2);
  add("ListUsers", list);
  list.set_page_token(users_page.next_page_token());
  list.set_consistency_token(user_tokens[0]);
  add("ListUsers", list);
  user_v1::UpdateUserRequest update;
  update.set_id(users[1]);
  update.set_username("fz_renamed");
  update.mutable_update_mask()->add_paths("username");
  add("UpdateUser", update);
  update.set_email("fz_renamed@example.com");
  update.mutable_update_mask()->add_paths("email");
  add("UpdateUser", update);
  user_v1::BatchGetUsersRequest batch;
  for (int64_t id : users) batch.add_ids(id);
  add("BatchGetUsers", batch);
  user_v1::VerifyPasswordRequest verify;
  verify.set_login("fz_ada");
  verify.set_password(kPassword);
  add("VerifyPassword", verify);
  verify.set_login("fz_dee@example.com");
  verify.set_password("not the password");
  add("VerifyPassword", verify);
  user_v1::ListUserEventsRequest events;
  events.set_page_size(10);
  add("ListUserEvents", events);
  events.set_page_token(events_page.next_page_token());
  events.mutable_wait()->set_nanos(50'000'000);
  add("ListUserEvents", events);

  post_v1::CreatePostRequest create_post;
  create_post.set_user_id(users[2]);
  create_post.set_body("fuzzed post");
  add("CreatePost", create_post);
  create_post.set_request_id("fz-request-1");
  add("CreatePost", create_post);
  for (int64_t id : posts) {
    post_v1::GetPostRequest get;
    get.set_id(id);
    add("GetPost", get);
    get.set_consistency_token(post_token);
    add("GetPost", get);
    post_v1::DeletePostRequest remove;
    remove.set_id(id);
    add("DeletePost", remove);
  }
  post_v1::ListPostsRequest list_posts;
  list_posts.set_user_id(users[0]);
  list_posts.set_page_size(2);
  add("ListPosts", list_posts);
  list_posts.set_page_token(posts_page.next_page_token());
  list_posts.set_consistency_token(post_token);
  add("ListPosts", list_posts);
  add("ListPosts", post_v1::ListPostsRequest());

  // Every method of both services, as their descriptors list them: an RPC
  // added later fails here until it is seeded.
  std::vector<Method> methods;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* service_name : kServices) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(service_name);
    EXPECT_NE(service, nullptr) << service_name;
    if (service == nullptr) continue;
    for (int m = 0; m < service->method_count(); ++m) {
      const std::string name = service->method(m)->name();
      Method method;
      method.path = "/" + service->full_name() + "/" + name;
      method.post_service = service->full_name() == kServices[1];
      method.hashes = name == "CreateUser" || name == "UpdateUser" || name == "VerifyPassword";
      method.seeds = seeds[name];
      EXPECT_FALSE(method.seeds.empty()) << "no valid request of " << method.path << " to mutate";
      methods.push_back(std::move(method));
    }
  }
  return methods;
}

void NetworkFuzzTest::GoodRound(UserService::Stub& users, PostService::Stub& posts, int round) {
  auto check = [this](const std::string& what, const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++good_calls_;
    }
    if (!status.ok()) GoodFailure(what, status);
  };
  {
    user_v1::GetUserRequest request;
    request.set_id(good_user_);
    user_v1::GetUserResponse response;
    check("GetUser", users.GetUser(NewContext().get(), request, &response));
  }
  {
    user_v1::LookupUserRequest request;
    request.set_username(good_username_);
    user_v1::LookupUserResponse response;
    check("LookupUser", users.LookupUser(NewContext().get(), request, &response));
  }
  {
    user_v1::BatchGetUsersRequest request;
    request.add_ids(good_user_);
    user_v1::BatchGetUsersResponse response;
    check("BatchGetUsers", users.BatchGetUsers(NewContext().get(), request, &response));
    if (response.users_size() != 1) GoodFailure("BatchGetUsers found no user", grpc::Status());
  }
  {
    user_v1::ListUsersRequest request;
    request.set_page_size(5);
    user_v1::ListUsersResponse response;
    check("ListUsers", users.ListUsers(NewContext().get(), request, &response));
  }
  {
    user_v1::ListUserEventsRequest request;
    request.set_page_size(10);
    user_v1::ListUserEventsResponse response;
    check("ListUserEvents", users.ListUserEvents(NewContext().get(), request, &response));
  }
  if (round % 10 == 0) {  // Argon2id: now and then
    user_v1::VerifyPasswordRequest request;
    request.set_login(good_username_);
    request.set_password(kPassword);
    user_v1::VerifyPasswordResponse response;
    check("VerifyPassword", users.VerifyPassword(NewContext().get(), request, &response));
  }
  post_v1::CreatePostRequest create;
  create.set_user_id(good_user_);
  create.set_body("good post " + std::to_string(round));
  create.set_request_id("good-" + std::to_string(round));
  post_v1::CreatePostResponse created;
  check("CreatePost", posts.CreatePost(NewContextAs(good_user_).get(), create, &created));
  {
    post_v1::GetPostRequest request;
    request.set_id(created.post().id());
    post_v1::GetPostResponse response;
    check("GetPost", posts.GetPost(NewContext().get(), request, &response));
  }
  {
    post_v1::ListPostsRequest request;
    request.set_user_id(good_user_);
    request.set_page_size(5);
    post_v1::ListPostsResponse response;
    check("ListPosts", posts.ListPosts(NewContext().get(), request, &response));
  }
}

void NetworkFuzzTest::Fuzz(const std::vector<Method>& methods, uint64_t seed, int count,
                           std::chrono::steady_clock::time_point until) {
  std::vector<const std::string*> all_seeds;
  for (const Method& method : methods) {
    for (const std::string& s : method.seeds) all_seeds.push_back(&s);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kFuzzThreads; ++t) {
    threads.emplace_back([&, t] {
      Mutator mutator(seed + static_cast<uint64_t>(t));
      grpc::GenericStub user_calls(users_->NewChannel());
      grpc::GenericStub post_calls(posts_->NewChannel());
      while (calls_.fetch_add(1) < count && std::chrono::steady_clock::now() < until) {
        const Method* method = &methods[mutator.Below(methods.size())];
        while (method->hashes && hashing_calls_.load() >= kMaxHashingCalls) {
          method = &methods[mutator.Below(methods.size())];
        }
        if (method->hashes) ++hashing_calls_;
        const std::string request =
            mutator.Below(kRandomOneIn) == 0
                ? mutator.RandomBytes(96)
                : mutator.Mutate(method->seeds[mutator.Below(method->seeds.size())], all_seeds);
        // Most calls as the seeds' first user, so that the changes get past
        // the token check and into the logic; some with none.
        const grpc::Status status =
            RawUnaryCall(method->post_service ? post_calls : user_calls, method->path, request,
                         kFuzzCallTimeout, nullptr, mutator.Below(4) == 0 ? "" : fuzz_token_);
        std::lock_guard<std::mutex> lock(mu_);
        ++codes_[method->path][status.error_code()];
        if (status.error_code() == StatusCode::INTERNAL ||
            status.error_code() == StatusCode::UNKNOWN) {
          offenders_.push_back({method->path, request, status});
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

void NetworkFuzzTest::SendGarbage(uint64_t seed) {
  static const std::string kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  Mutator mutator(seed);
  for (int i = 0; i < 2 * kGarbageConnections; ++i) {
    const std::string& address = (i % 2 == 0 ? users_ : posts_)->address();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    timeval timeout{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
      // Half start like HTTP/2 (the preface, then junk frames), half not.
      const std::string bytes = (i % 4 < 2 ? kPreface : "") + mutator.RandomBytes(512);
      if (send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) >= 0) {
        shutdown(fd, SHUT_WR);
        char buffer[4096];
        while (recv(fd, buffer, sizeof(buffer), 0) > 0) {
        }
      }
    }
    close(fd);
  }
}

// Mutated valid requests of every RPC of both services, random bytes as
// requests and as raw TCP, beside a good client: the fuzzed calls fail
// only themselves, never INTERNAL or UNKNOWN; the good client is always
// served; both services stay SERVING and keep their memory.
TEST_F(NetworkFuzzTest, FuzzedRequestsOfEveryRpcFailOnlyThemselves) {
  uint64_t seed = std::random_device()();
  if (const char* given = std::getenv("MICROBLOG_FUZZ_SEED")) seed = std::stoull(given);
  std::cout << "MICROBLOG_FUZZ_SEED=" << seed << std::endl;
  RecordProperty("seed", std::to_string(seed));

  StartServices(SmallQuarantine(), SmallQuarantine());
  const std::vector<Method> methods = SeedMethods();
  ASSERT_FALSE(HasFailure());
  MoveIdentitiesOutOfReach();
  good_username_ = "good_client";
  good_user_ = CreateUser(good_username_);
  ASSERT_GE(good_user_, kOutOfReachId);

  // The good client runs beside all fuzzing; it pauses only while memory
  // is read, so that no password hash of its own (Argon2id's memory) is in
  // flight then.
  std::atomic<bool> stop_good{false};
  std::atomic<bool> pause_good{false};
  std::atomic<bool> good_paused{false};
  std::thread good([&] {
    auto users = UserService::NewStub(users_->NewChannel());
    auto posts = PostService::NewStub(posts_->NewChannel());
    for (int round = 0; !stop_good;) {
      good_paused = pause_good.load();
      if (good_paused) {
        std::this_thread::sleep_for(10ms);
      } else {
        GoodRound(*users, *posts, round++);
      }
    }
  });
  auto quiet = [&] {
    pause_good = true;
    EXPECT_TRUE(Eventually([&] { return good_paused.load(); }, kWaitTimeout));
    std::this_thread::sleep_for(kSettle);
  };

  // Warm-up: the threads, pools, caches and allocator regions that fuzzing
  // uses come to life before the memory baseline.
  Fuzz(methods, seed ^ 0x5eed, kWarmUpCalls, std::chrono::steady_clock::now() + kMaxWarmUpTime);
  quiet();
  const std::optional<int64_t> users_start = ResidentKiB(users_->pid());
  const std::optional<int64_t> posts_start = ResidentKiB(posts_->pid());
  ASSERT_TRUE(users_start && posts_start);
  pause_good = false;

  calls_ = 0;
  hashing_calls_ = 0;
  const auto started = std::chrono::steady_clock::now();
  std::thread garbage([&] { SendGarbage(seed); });
  Fuzz(methods, seed, kMaxCalls, started + kMaxTime);
  garbage.join();
  const auto fuzzed_for = std::chrono::steady_clock::now() - started;
  const int hashing = hashing_calls_;
  quiet();
  stop_good = true;
  good.join();

  // What happened, for the log.
  int fuzzed = 0;
  for (const auto& [path, codes] : codes_) {
    std::cout << path << ":";
    for (const auto& [code, n] : codes) {
      std::cout << " " << code << "x" << n;
      fuzzed += n;
    }
    std::cout << "\n";
  }
  std::cout << fuzzed << " fuzzed calls, warm-up included; the last "
            << std::min(calls_.load(), kMaxCalls) << " (" << hashing << " to Argon2id RPCs) in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(fuzzed_for).count()
            << " ms, beside " << 2 * kGarbageConnections << " raw TCP connections of random bytes; "
            << good_calls_ << " good calls" << std::endl;

  for (const Method& method : methods) {
    EXPECT_GT(codes_[method.path].size(), 0u) << method.path << " was never fuzzed";
  }
  for (const Offender& o : offenders_) {
    ADD_FAILURE() << o.path << " answered " << o.status.error_code() << " \""
                  << o.status.error_message() << "\" to request (hex) " << Hex(o.request);
  }
  EXPECT_EQ(good_failures_, 0) << "of " << good_calls_ << " good calls";
  EXPECT_GT(good_calls_, 0);

  ASSERT_TRUE(users_->Running()) << users_->output();
  ASSERT_TRUE(posts_->Running()) << posts_->output();
  EXPECT_EQ(users_->CheckHealth(kCallTimeout), HealthStatus::SERVING);
  EXPECT_EQ(users_->CheckHealth(kCallTimeout, kServices[0]), HealthStatus::SERVING);
  EXPECT_EQ(posts_->CheckHealth(kCallTimeout), HealthStatus::SERVING);
  EXPECT_EQ(posts_->CheckHealth(kCallTimeout, kServices[1]), HealthStatus::SERVING);

  // Memory settles back near its start (freed memory may take a moment to
  // leave the quarantine and allocator caches).
  int64_t users_end = 0;
  int64_t posts_end = 0;
  Eventually(
      [&] {
        users_end = ResidentKiB(users_->pid()).value_or(0);
        posts_end = ResidentKiB(posts_->pid()).value_or(0);
        return users_end <= *users_start + kRssToleranceKiB &&
               posts_end <= *posts_start + kRssToleranceKiB;
      },
      10s);
  std::cout << "VmRSS KiB after warm-up -> at the end: user-service " << *users_start << " -> "
            << users_end << ", post-service " << *posts_start << " -> " << posts_end << std::endl;
  EXPECT_LE(users_end, *users_start + kRssToleranceKiB);
  EXPECT_LE(posts_end, *posts_start + kRssToleranceKiB);

  // Nothing leaked either: stopped gracefully, each exits 0, and in the dev
  // build LeakSanitizer (enabled for them above) reports nothing at exit.
  for (ServiceProcess* service : {posts_.get(), users_.get()}) {
    service->Signal(SIGTERM);
    EXPECT_EQ(service->WaitExit(kWaitTimeout), std::optional<int>(0)) << service->output();
    EXPECT_EQ(service->output().find("LeakSanitizer"), std::string::npos) << service->output();
  }
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
