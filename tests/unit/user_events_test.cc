// Unit tests of UserEventFeed, the logic of UserService.ListUserEvents, on
// an in-memory fake outbox: the long poll's parking and wake-ups, what a
// page and its token hold, and what the end-to-end tests
// (e2e/deletion_cascade_test.cc) cannot force from outside, such as events of a
// kind this build does not know and a store failing mid-poll.
#include "user-service/feed/user_events.h"

#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "common/exec/wait_list.h"
#include "common/exec/worker_pool.h"
#include "microblog/user/v1/user_service.pb.h"
#include "user-service/feed/user_event_store.h"
#include "user-service/user_validation.h"

namespace microblog {
namespace user {
namespace {

namespace v1 = ::microblog::user::v1;
using namespace std::chrono_literals;

// The feed as a vector, in feed order; counts reads; can fail.
class FakeUserEventStore final : public UserEventStore {
 public:
  void Append(int64_t xid, int64_t id, const std::string& kind, int64_t user_id) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back({{xid, id}, kind, user_id, 1700000000000000 + id});
  }
  void FailWith(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_with_ = std::move(status);
  }
  int reads() {
    std::lock_guard<std::mutex> lock(mu_);
    return reads_;
  }

  // The next `held_back_reads` reads say events are held back.
  void HoldBack(int reads) {
    std::lock_guard<std::mutex> lock(mu_);
    held_back_reads_ = reads;
  }

  absl::StatusOr<FeedPage> ListAfter(const std::optional<FeedPosition>& after, int limit,
                                     Clock::time_point) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++reads_;
    if (!fail_with_.ok()) return fail_with_;
    FeedPage page;
    if (held_back_reads_ > 0) {
      --held_back_reads_;
      page.held_back = true;
      return page;
    }
    for (const UserEventRecord& event : events_) {
      const bool later = !after || event.position.xid > after->xid ||
                         (event.position.xid == after->xid && event.position.id > after->id);
      if (later && static_cast<int>(page.events.size()) < limit) page.events.push_back(event);
    }
    return page;
  }
  absl::StatusOr<int64_t> Prune(std::chrono::seconds, Clock::time_point) override { return 0; }

 private:
  std::mutex mu_;
  std::vector<UserEventRecord> events_;
  absl::Status fail_with_ = absl::OkStatus();
  int reads_ = 0;
  int held_back_reads_ = 0;
};

class UserEventFeedTest : public ::testing::Test {
 protected:
  // Calls ListUserEvents; the future holds its status once it answered.
  std::future<absl::Status> List(const v1::ListUserEventsRequest& request,
                                 v1::ListUserEventsResponse& response,
                                 Clock::duration deadline = 30s) {
    auto answered = std::make_shared<std::promise<absl::Status>>();
    std::future<absl::Status> result = answered->get_future();
    feed_.ListUserEvents(request, Clock::now() + deadline, response,
                         [answered](const absl::Status& status) { answered->set_value(status); });
    return result;
  }

  FakeUserEventStore store_;
  WaitList new_events_;
  WorkerPool workers_{"test-db", 2};
  UserEventFeed feed_{store_, workers_, new_events_, std::chrono::hours(1)};
};

TEST_F(UserEventFeedTest, APageHoldsTheEventsAfterTheTokenAndTheTokenOfItsLast) {
  store_.Append(10, 1, kUserDeletedKind, 100);
  store_.Append(10, 2, kUserDeletedKind, 101);
  store_.Append(12, 3, kUserDeletedKind, 102);
  v1::ListUserEventsRequest request;
  request.set_page_size(2);
  v1::ListUserEventsResponse first;
  ASSERT_TRUE(List(request, first).get().ok());
  ASSERT_EQ(first.events_size(), 2);
  EXPECT_EQ(first.events(0).user_id(), 100);
  EXPECT_EQ(first.events(0).kind(), v1::UserEvent::KIND_USER_DELETED);
  EXPECT_EQ(first.events(1).event_id(), 2);
  EXPECT_EQ(first.next_page_token(), EncodeUserEventsToken({10, 2}));

  request.set_page_token(first.next_page_token());
  v1::ListUserEventsResponse second;
  ASSERT_TRUE(List(request, second).get().ok());
  ASSERT_EQ(second.events_size(), 1);
  EXPECT_EQ(second.events(0).user_id(), 102);
  EXPECT_EQ(second.events(0).occur_time().seconds(), 1700000000);
}

TEST_F(UserEventFeedTest, EventsOfAnUnknownKindAreSkippedButPassed) {
  store_.Append(5, 1, "user.renamed.v9", 100);  // written by a newer release
  store_.Append(5, 2, kUserDeletedKind, 101);
  v1::ListUserEventsRequest request;
  v1::ListUserEventsResponse response;
  ASSERT_TRUE(List(request, response).get().ok());
  ASSERT_EQ(response.events_size(), 1);
  EXPECT_EQ(response.events(0).user_id(), 101);
  EXPECT_EQ(response.next_page_token(), EncodeUserEventsToken({5, 2}));

  // Only unknown kinds: nothing to show, but the token still moves on.
  store_.Append(6, 3, "user.renamed.v9", 102);
  request.set_page_token(response.next_page_token());
  v1::ListUserEventsResponse next;
  ASSERT_TRUE(List(request, next).get().ok());
  EXPECT_EQ(next.events_size(), 0);
  EXPECT_EQ(next.next_page_token(), EncodeUserEventsToken({6, 3}));
}

TEST_F(UserEventFeedTest, ALongPollParksUntilANotificationThenReadsAgain) {
  v1::ListUserEventsRequest request;
  request.mutable_wait()->set_seconds(30);
  v1::ListUserEventsResponse response;
  std::future<absl::Status> answer = List(request, response);
  EXPECT_EQ(answer.wait_for(200ms), std::future_status::timeout);  // parked
  const int reads_while_parked = store_.reads();

  store_.Append(7, 1, kUserDeletedKind, 100);
  new_events_.NotifyAll();
  ASSERT_TRUE(answer.get().ok());
  EXPECT_EQ(store_.reads(), reads_while_parked + 1);
  ASSERT_EQ(response.events_size(), 1);
  EXPECT_EQ(response.events(0).user_id(), 100);
}

TEST_F(UserEventFeedTest, ALongPollWithNothingNewAnswersEmptyWithItsOwnToken) {
  const std::string token = EncodeUserEventsToken({3, 9});
  v1::ListUserEventsRequest request;
  request.set_page_token(token);
  request.mutable_wait()->set_nanos(100000000);  // 100 ms
  v1::ListUserEventsResponse response;
  ASSERT_TRUE(List(request, response).get().ok());
  EXPECT_EQ(response.events_size(), 0);
  EXPECT_EQ(response.next_page_token(), token);

  // A notification about nothing new (another reader's event, a
  // reconnection) makes it read again and park again, not answer.
  request.mutable_wait()->set_seconds(30);
  std::future<absl::Status> answer = List(request, response, 1s);
  new_events_.NotifyAll();
  EXPECT_EQ(answer.wait_for(200ms), std::future_status::timeout);
  // The caller's deadline (1 s) bounds the wait: an empty answer before it.
  ASSERT_TRUE(answer.get().ok());
  EXPECT_EQ(response.events_size(), 0);
}

// Events committed behind an older, still running transaction come out
// when it ends, which notifies nobody: the poll reads again by itself.
TEST_F(UserEventFeedTest, HeldBackEventsAreReadAgainWithoutANotification) {
  store_.Append(9, 4, kUserDeletedKind, 100);
  store_.HoldBack(3);
  v1::ListUserEventsRequest request;
  request.mutable_wait()->set_seconds(30);
  v1::ListUserEventsResponse response;
  std::future<absl::Status> answer = List(request, response);
  // No NotifyAll(): far sooner than the 30 s wait.
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  ASSERT_TRUE(answer.get().ok());
  ASSERT_EQ(response.events_size(), 1);
  EXPECT_EQ(response.events(0).user_id(), 100);
  EXPECT_EQ(store_.reads(), 4);
}

TEST_F(UserEventFeedTest, ClosingAnswersParkedPollsAtOnce) {
  v1::ListUserEventsRequest request;
  request.mutable_wait()->set_seconds(30);
  v1::ListUserEventsResponse response;
  std::future<absl::Status> answer = List(request, response);
  EXPECT_EQ(answer.wait_for(100ms), std::future_status::timeout);
  new_events_.Close();  // what RunServer's shutdown hook does
  EXPECT_EQ(answer.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(answer.get().ok());
}

TEST_F(UserEventFeedTest, StoreErrorsAreTheAnswerAndInvalidRequestsNeverReachTheStore) {
  store_.FailWith(absl::OutOfRangeError("pruned"));
  v1::ListUserEventsRequest request;
  request.set_page_token(EncodeUserEventsToken({1, 1}));
  v1::ListUserEventsResponse response;
  EXPECT_EQ(List(request, response).get().code(), absl::StatusCode::kOutOfRange);

  const int reads = store_.reads();
  request.set_page_size(-5);
  EXPECT_EQ(List(request, response).get().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_.reads(), reads);
}

}  // namespace
}  // namespace user
}  // namespace microblog
