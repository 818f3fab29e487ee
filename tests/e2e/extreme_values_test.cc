// Extreme values of every numeric request field of every RPC of both
// services, through gRPC against the real binaries (in the dev preset: the
// ASan/UBSan build, where an overflow aborts the process).
//
// One row per RPC and field: the field is set in turn to 0, 1, -1 and the
// extremes of its type (INT64_MAX/INT64_MIN for ids, INT32_MAX/INT32_MIN for
// page sizes), including the ids inside page tokens and repeated ids. Each
// call must get exactly the status code of the proto's "Errors:" contract,
// and afterwards both services must still run and answer their health
// check SERVING. CreateUser, LookupUser and VerifyPassword have no numeric
// field. ListUserEvents' wait (a google.protobuf.Duration) counts as its two
// fields, seconds and nanos.
//
// Each row starts fresh services whose databases hold user 1 and post 1, so
// that 1 names something that exists and INT64_MAX something that does not.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/base/page_token.h"
#include "e2e/both_services_fixture.h"
#include "microblog/post/v1/post_service.grpc.pb.h"
#include "microblog/user/v1/user_service.grpc.pb.h"

namespace microblog {
namespace test_support {
namespace {

using grpc::StatusCode;
using microblog::post::v1::PostService;
using microblog::user::v1::UserService;
namespace post_v1 = microblog::post::v1;
namespace user_v1 = microblog::user::v1;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();

constexpr StatusCode kOk = StatusCode::OK;
constexpr StatusCode kInvalid = StatusCode::INVALID_ARGUMENT;
constexpr StatusCode kNotFound = StatusCode::NOT_FOUND;

// What the seeded databases hold (see ExtremeValuesTest::SetUp).
constexpr int64_t kUserId = 1;
constexpr int64_t kPostId = 1;

// The stubs a row calls, and what the seeding left behind.
struct Clients {
  UserService::Stub& users;
  PostService::Stub& posts;
  int64_t post_micros;  // create_time of post 1
};

struct Expectation {
  int64_t value;
  StatusCode code;
};

// One RPC and field: `call` sends the RPC with the field set to a value.
struct Row {
  std::string name;  // test name suffix: <Rpc>_<field>
  std::function<grpc::Status(const Clients&, int64_t value)> call;
  std::vector<Expectation> expected;
};
void PrintTo(const Row& row, std::ostream* out) { *out << row.name; }

// The codes for an int64 field set to 0, 1, -1, INT64_MAX, INT64_MIN.
std::vector<Expectation> Int64Field(StatusCode zero, StatusCode one, StatusCode minus_one,
                                    StatusCode max, StatusCode min) {
  return {{0, zero}, {1, one}, {-1, minus_one}, {kInt64Max, max}, {kInt64Min, min}};
}
// The codes for an int32 field set to 0, 1, -1, INT32_MAX, INT32_MIN.
std::vector<Expectation> Int32Field(StatusCode zero, StatusCode one, StatusCode minus_one,
                                    StatusCode max, StatusCode min) {
  return {{0, zero}, {1, one}, {-1, minus_one}, {kInt32Max, max}, {kInt32Min, min}};
}
// A required id: not positive is INVALID_ARGUMENT; 1 exists; INT64_MAX does not.
std::vector<Expectation> RequiredId() {
  return Int64Field(kInvalid, kOk, kInvalid, kNotFound, kInvalid);
}
// The id of what a change acts on, sent with user kUserId's token (the
// author of post kPostId): 1 is the caller's own; INT64_MAX someone else's.
std::vector<Expectation> OwnedId() {
  return Int64Field(kInvalid, kOk, kInvalid, StatusCode::PERMISSION_DENIED, kInvalid);
}
// A page size: negative is INVALID_ARGUMENT, 0 is the default, more than the
// maximum is lowered to it.
std::vector<Expectation> PageSize() { return Int32Field(kOk, kOk, kInvalid, kOk, kInvalid); }

// Calls `rpc` (GetUser, DeleteUser, GetPost, DeletePost: a request with
// just an id) with `id`.
// With `as_user`, with that user's access token.
template <typename Stub, typename Request, typename Response>
grpc::Status ById(Stub& stub,
                  grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&, Response*),
                  int64_t id, int64_t as_user = 0) {
  Request request;
  request.set_id(id);
  Response response;
  return (stub.*rpc)((as_user > 0 ? NewContextAs(as_user) : NewContext()).get(), request,
                     &response);
}

// --- user-service ---

grpc::Status UpdateUser(const Clients& c, int64_t id) {
  user_v1::UpdateUserRequest request;
  request.set_id(id);
  request.set_username("renamed");
  request.mutable_update_mask()->add_paths("username");
  user_v1::UpdateUserResponse response;
  grpc::Status status = c.users.UpdateUser(NewContextAs(kUserId).get(), request, &response);
  if (status.ok()) {
    EXPECT_EQ(response.user().username(), "renamed");
  }
  return status;
}

// BatchGetUsers with `ids`; on success, checks that exactly the known ones
// among them came back, once.
grpc::Status BatchGetUsers(const Clients& c, const std::vector<int64_t>& ids) {
  user_v1::BatchGetUsersRequest request;
  for (int64_t id : ids) request.add_ids(id);
  user_v1::BatchGetUsersResponse response;
  grpc::Status status = c.users.BatchGetUsers(NewContext().get(), request, &response);
  if (status.ok()) {
    const bool known = std::find(ids.begin(), ids.end(), kUserId) != ids.end();
    EXPECT_EQ(response.users_size(), known ? 1 : 0);
    if (known && response.users_size() == 1) {
      EXPECT_EQ(response.users(0).id(), kUserId);
    }
  }
  return status;
}

grpc::Status ListUsers(const Clients& c, int64_t page_size, const std::string& token) {
  user_v1::ListUsersRequest request;
  request.set_page_size(static_cast<int32_t>(page_size));
  request.set_page_token(token);
  user_v1::ListUsersResponse response;
  return c.users.ListUsers(NewContext().get(), request, &response);
}

// ListUserEvents with `page_size`, a token of `token` (empty: none) and a
// wait of `wait_seconds` + `wait_nanos`. Called with a deadline of 2 s, so
// that the longest wait (capped at 30 s) answers, OK, before the deadline.
grpc::Status ListUserEvents(const Clients& c, int64_t page_size, const std::vector<int64_t>& token,
                            int64_t wait_seconds = 0, int64_t wait_nanos = 0) {
  user_v1::ListUserEventsRequest request;
  request.set_page_size(static_cast<int32_t>(page_size));
  if (!token.empty()) request.set_page_token(EncodePageToken("user-events", token));
  request.mutable_wait()->set_seconds(wait_seconds);
  request.mutable_wait()->set_nanos(static_cast<int32_t>(wait_nanos));
  user_v1::ListUserEventsResponse response;
  return c.users.ListUserEvents(NewContext(std::chrono::seconds(2)).get(), request, &response);
}

// --- post-service ---

grpc::Status CreatePost(const Clients& c, int64_t user_id) {
  post_v1::CreatePostRequest request;
  request.set_user_id(user_id);
  request.set_body("extreme");
  post_v1::CreatePostResponse response;
  grpc::Status status = c.posts.CreatePost(NewContextAs(kUserId).get(), request, &response);
  if (status.ok()) {
    EXPECT_EQ(response.post().user_id(), user_id);
  }
  return status;
}

grpc::Status ListPosts(const Clients& c, int64_t user_id, int64_t page_size,
                       const std::string& token = "") {
  post_v1::ListPostsRequest request;
  request.set_user_id(user_id);
  request.set_page_size(static_cast<int32_t>(page_size));
  request.set_page_token(token);
  post_v1::ListPostsResponse response;
  return c.posts.ListPosts(NewContext().get(), request, &response);
}

// A token of post-service's listings: the listing's user_id, then the sort
// key (create_time in microseconds, id) of the last post of the page.
std::string PostsToken(int64_t user_id, int64_t create_micros, int64_t id) {
  return EncodePageToken("posts", {user_id, create_micros, id});
}

std::vector<Row> Rows() {
  std::vector<Row> rows = {
      {"GetUser_id",
       [](const Clients& c, int64_t id) { return ById(c.users, &UserService::Stub::GetUser, id); },
       RequiredId()},
      {"UpdateUser_id", UpdateUser, OwnedId()},
      {"DeleteUser_id",
       [](const Clients& c, int64_t id) {
         return ById(c.users, &UserService::Stub::DeleteUser, id, kUserId);
       },
       OwnedId()},
      // Unknown ids are skipped, not NOT_FOUND; ids must be positive.
      {"BatchGetUsers_ids", [](const Clients& c, int64_t id) { return BatchGetUsers(c, {id}); },
       Int64Field(kInvalid, kOk, kInvalid, kOk, kInvalid)},
      {"BatchGetUsers_ids_among_others",
       [](const Clients& c, int64_t id) {
         return BatchGetUsers(c, {kUserId, id, id, kUserId});
       },
       Int64Field(kInvalid, kOk, kInvalid, kOk, kInvalid)},
      // 100 ids is the most a call may carry (and 100 bad ones still get an
      // INVALID_ARGUMENT whose details fit in gRPC's metadata); 101 is too
      // many, whatever they are.
      {"BatchGetUsers_ids_100_times",
       [](const Clients& c, int64_t id) { return BatchGetUsers(c, std::vector<int64_t>(100, id)); },
       Int64Field(kInvalid, kOk, kInvalid, kOk, kInvalid)},
      {"BatchGetUsers_ids_101_times",
       [](const Clients& c, int64_t id) { return BatchGetUsers(c, std::vector<int64_t>(101, id)); },
       Int64Field(kInvalid, kInvalid, kInvalid, kInvalid, kInvalid)},
      {"ListUsers_page_size",
       [](const Clients& c, int64_t page_size) { return ListUsers(c, page_size, ""); }, PageSize()},
      // The token holds the last id of the previous page: one the service
      // never hands out (<= 0) is refused, as post-service refuses its own.
      {"ListUsers_page_token_id",
       [](const Clients& c, int64_t id) { return ListUsers(c, 0, EncodePageToken("users", {id})); },
       Int64Field(kInvalid, kOk, kInvalid, kOk, kInvalid)},
      {"ListUserEvents_page_size",
       [](const Clients& c, int64_t page_size) { return ListUserEvents(c, page_size, {}); },
       PageSize()},
      // The token holds a feed position (transaction id, event id): the
      // service never hands out one that is not positive.
      {"ListUserEvents_page_token_xid",
       [](const Clients& c, int64_t xid) {
         return ListUserEvents(c, 0, {xid, 1});
       },
       Int64Field(kInvalid, kOk, kInvalid, kOk, kInvalid)},
      {"ListUserEvents_page_token_id",
       [](const Clients& c, int64_t id) {
         return ListUserEvents(c, 0, {1, id});
       },
       Int64Field(kInvalid, kOk, kInvalid, kOk, kInvalid)},
      // Waits are capped at 30 s and by the call's deadline; negative ones
      // are refused.
      {"ListUserEvents_wait_seconds",
       [](const Clients& c, int64_t seconds) { return ListUserEvents(c, 0, {}, seconds); },
       Int64Field(kOk, kOk, kInvalid, kOk, kInvalid)},
      {"ListUserEvents_wait_nanos",
       [](const Clients& c, int64_t nanos) { return ListUserEvents(c, 0, {}, 0, nanos); },
       Int32Field(kOk, kOk, kInvalid, kInvalid, kInvalid)},

      {"CreatePost_user_id", CreatePost, OwnedId()},
      {"GetPost_id",
       [](const Clients& c, int64_t id) { return ById(c.posts, &PostService::Stub::GetPost, id); },
       RequiredId()},
      {"DeletePost_id",
       [](const Clients& c, int64_t id) {
         return ById(c.posts, &PostService::Stub::DeletePost, id, kUserId);
       },
       RequiredId()},
      // 0 lists everyone's posts; an author without posts has an empty page.
      {"ListPosts_user_id",
       [](const Clients& c, int64_t user_id) { return ListPosts(c, user_id, 0); },
       Int64Field(kOk, kOk, kInvalid, kOk, kInvalid)},
      // The token's user_id must be the request's.
      {"ListPosts_page_token_user_id",
       [](const Clients& c, int64_t user_id) {
         return ListPosts(c, user_id, 0, PostsToken(user_id, c.post_micros, kPostId));
       },
       Int64Field(kOk, kOk, kInvalid, kOk, kInvalid)},
      {"ListPosts_page_token_user_id_of_another_listing",
       [](const Clients& c, int64_t user_id) {
         return ListPosts(c, 0, 0, PostsToken(user_id, c.post_micros, kPostId));
       },
       Int64Field(kOk, kInvalid, kInvalid, kInvalid, kInvalid)},
      // Times beyond what a timestamp can hold were never issued.
      {"ListPosts_page_token_create_micros",
       [](const Clients& c, int64_t micros) {
         return ListPosts(c, kUserId, 0, PostsToken(kUserId, micros, kPostId));
       },
       Int64Field(kOk, kOk, kOk, kInvalid, kInvalid)},
      {"ListPosts_page_token_id",
       [](const Clients& c, int64_t id) {
         return ListPosts(c, kUserId, 0, PostsToken(kUserId, c.post_micros, id));
       },
       Int64Field(kInvalid, kOk, kInvalid, kOk, kInvalid)},
  };
  // page_size for each extreme user_id: everyone's posts (0) and one
  // author's first page (batched by post-service) take different paths.
  for (const Expectation& user : Int64Field(kOk, kOk, kInvalid, kOk, kInvalid)) {
    const std::string user_name = user.value == kInt64Max   ? "max"
                                  : user.value == kInt64Min ? "min"
                                  : user.value < 0          ? "minus_one"
                                                            : std::to_string(user.value);
    std::vector<Expectation> expected = PageSize();
    if (user.code != kOk) {
      for (Expectation& e : expected) e.code = user.code;
    }
    rows.push_back({"ListPosts_page_size_of_user_id_" + user_name,
                    [user_id = user.value](const Clients& c, int64_t page_size) {
                      return ListPosts(c, user_id, page_size);
                    },
                    expected});
  }
  return rows;
}

class ExtremeValuesTest : public BothServicesTest, public ::testing::WithParamInterface<Row> {
 protected:
  void SetUp() override {
    BothServicesTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(StartServices());
    ASSERT_EQ(CreateUser("first"), kUserId);
    Post post;
    grpc::Status status = BothServicesTest::CreatePost(kUserId, "first", "", &post);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(post.id(), kPostId);
    post_micros_ = Micros(post.create_time());
  }

  // Adds a failure, with the process's output, for each service that exited
  // or does not answer SERVING; returns whether both are fine.
  bool BothServing() {
    bool serving = true;
    for (auto [name, service] :
         {std::pair{"user-service", users_.get()}, std::pair{"post-service", posts_.get()}}) {
      if (!service->Running() ||
          service->CheckHealth() != grpc::health::v1::HealthCheckResponse::SERVING) {
        ADD_FAILURE() << name << " is not SERVING any more; its output:\n" << service->output();
        serving = false;
      }
    }
    return serving;
  }

  int64_t post_micros_ = 0;
};

TEST_P(ExtremeValuesTest, EachValueGetsItsContractedCodeAndTheServicesLive) {
  const Row& row = GetParam();
  const Clients clients{*user_stub_, *stub_, post_micros_};
  for (const Expectation& e : row.expected) {
    SCOPED_TRACE(row.name + " = " + std::to_string(e.value));
    const grpc::Status status = row.call(clients, e.value);
    EXPECT_EQ(status.error_code(), e.code) << status.error_message();
    if (!BothServing()) return;
  }
}

std::string RowName(const ::testing::TestParamInfo<Row>& row) { return row.param.name; }

INSTANTIATE_TEST_SUITE_P(AllRpcs, ExtremeValuesTest, ::testing::ValuesIn(Rows()), RowName);

}  // namespace
}  // namespace test_support
}  // namespace microblog
