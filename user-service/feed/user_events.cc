#include "user-service/feed/user_events.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/log.h"
#include "common/base/proto_time.h"
#include "user-service/user_validation.h"

namespace microblog {
namespace user {

namespace {

// A long poll answers this much before the caller's deadline, so that the
// answer, not DEADLINE_EXCEEDED, reaches it.
constexpr std::chrono::milliseconds kAnswerMargin{100};
// Upper bound of one prune.
constexpr std::chrono::seconds kPruneTimeout{60};
// While committed events are held back by an older transaction, nothing
// will notify their release: read again after this, doubling up to the max.
constexpr std::chrono::milliseconds kFirstHeldBackRecheck{2};
constexpr std::chrono::milliseconds kMaxHeldBackRecheck{500};

// The proto kind of a stored kind; nullopt for kinds this build does not
// know (written by a newer release): those are skipped.
std::optional<v1::UserEvent::Kind> KindOf(const std::string& kind) {
  if (kind == kUserDeletedKind) return v1::UserEvent::KIND_USER_DELETED;
  if (kind == kCredentialsChangedKind) return v1::UserEvent::KIND_CREDENTIALS_CHANGED;
  return std::nullopt;
}

}  // namespace

// One ListUserEvents call, shared by its reads and its wait.
struct UserEventFeed::Poll {
  ListUserEventsQuery query;
  Clock::time_point deadline;    // of the queries
  Clock::time_point wait_until;  // answer, empty, from then on
  std::string page_token;        // the request's
  v1::ListUserEventsResponse* response;
  Reply done;
  // Next re-read while events are held back (see FeedPage::held_back).
  std::chrono::milliseconds held_back_recheck = kFirstHeldBackRecheck;
};

UserEventFeed::UserEventFeed(UserEventStore& store, WorkerPool& db_workers, WaitList& new_events,
                             std::chrono::seconds retention)
    : store_(store), db_workers_(db_workers), new_events_(new_events), retention_(retention) {}

void UserEventFeed::ListUserEvents(const v1::ListUserEventsRequest& request,
                                   Clock::time_point deadline, v1::ListUserEventsResponse& response,
                                   Reply done) {
  absl::StatusOr<ListUserEventsQuery> query = ParseListUserEventsRequest(request);
  if (!query.ok()) return std::move(done)(query.status());
  auto poll = std::make_shared<Poll>();
  poll->wait_until = std::min(Clock::now() + query->wait, deadline - kAnswerMargin);
  poll->query = *std::move(query);
  poll->deadline = deadline;
  poll->page_token = request.page_token();
  poll->response = &response;
  poll->done = std::move(done);
  Read(std::move(poll));
}

void UserEventFeed::Read(std::shared_ptr<Poll> poll) {
  db_workers_.Submit([this, poll = std::move(poll)]() mutable {
    // Taken before reading: a notification from here on wakes the wait.
    const uint64_t seen = new_events_.generation();
    absl::StatusOr<FeedPage> page =
        store_.ListAfter(poll->query.after, poll->query.page_size, poll->deadline);
    if (!page.ok()) return std::move(poll->done)(page.status());
    const Clock::time_point now = Clock::now();
    if (page->events.empty() && now < poll->wait_until && !new_events_.closed()) {
      // Parked until a notification (a new event committed) or the end of
      // the wait; or, when committed events wait only for an older
      // transaction to end (which notifies nobody), a short while.
      Clock::time_point wake_up = poll->wait_until;
      if (page->held_back) {
        wake_up = std::min(wake_up, now + poll->held_back_recheck);
        poll->held_back_recheck = std::min(poll->held_back_recheck * 2, kMaxHeldBackRecheck);
      }
      new_events_.Wait(seen, wake_up, [this, poll]() mutable { Read(std::move(poll)); });
      return;
    }
    const std::vector<UserEventRecord>& events = page->events;
    v1::ListUserEventsResponse& response = *poll->response;
    for (const UserEventRecord& event : events) {
      const std::optional<v1::UserEvent::Kind> kind = KindOf(event.kind);
      if (!kind) continue;
      v1::UserEvent& out = *response.add_events();
      out.set_event_id(event.position.id);
      out.set_kind(*kind);
      out.set_user_id(event.user_id);
      *out.mutable_occur_time() = TimestampFromMicros(event.occur_micros);
      out.set_credentials_version(event.credentials_version);
    }
    response.set_next_page_token(events.empty() ? poll->page_token
                                                : EncodeUserEventsToken(events.back().position));
    std::move(poll->done)(absl::OkStatus());
  });
}

void UserEventFeed::PruneExpired() {
  absl::StatusOr<int64_t> pruned = store_.Prune(retention_, Clock::now() + kPruneTimeout);
  if (!pruned.ok()) {
    Log(LogLevel::kWarn, "pruning user events failed; retrying at the next interval",
        {{"error", RedactUrl(std::string(pruned.status().message()))}});
  } else if (*pruned > 0) {
    Log(LogLevel::kInfo, "pruned user events past retention",
        {{"events", *pruned}, {"retention_s", static_cast<int64_t>(retention_.count())}});
  }
}

}  // namespace user
}  // namespace microblog
