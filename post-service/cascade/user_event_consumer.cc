#include "post-service/cascade/user_event_consumer.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/proto_time.h"
#include "common/rpc/grpc_status.h"

namespace microblog {
namespace post {
namespace {

namespace v1 = ::microblog::user::v1;

// Upper bound of one database step.
constexpr std::chrono::seconds kStoreTimeout{30};
// Pause of a replica that found another one applying.
constexpr std::chrono::milliseconds kStandBy{200};

int64_t MicrosSinceEpoch(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

}  // namespace

UserEventConsumer::UserEventConsumer(DeletedAuthorsStore& store,
                                     v1::UserService::StubInterface& users, Reconciler& reconciler,
                                     UserEventConsumerOptions options, Registry* metrics)
    : store_(store),
      users_(users),
      reconciler_(reconciler),
      options_(std::move(options)),
      random_(std::random_device{}()) {
  if (metrics != nullptr) {
    applied_ = &metrics
                    ->AddCounter("microblog_user_events_applied_total",
                                 "Events of user-service's feed applied by this replica "
                                 "(user deletions and events that need nothing).",
                                 {})
                    .WithLabels({});
    metrics->AddCollector([this](Registry::Samples& out) {
      const int64_t since = behind_since_micros_.load(std::memory_order_relaxed);
      const int64_t now = MicrosSinceEpoch(Clock::now());
      out.push_back(
          {"microblog_user_events_lag_seconds",
           "How far behind user-service's feed of deletions this replica is: 0 when "
           "its last poll found nothing more, else the age of the oldest event it "
           "has not applied, or the time since its failures began.",
           "gauge",
           {},
           since == 0 ? 0.0 : static_cast<double>(std::max<int64_t>(now - since, 0)) / 1e6});
    });
  }
  thread_ = std::thread([this] { Run(); });
}

void UserEventConsumer::BehindSince(int64_t micros) {
  int64_t current = behind_since_micros_.load(std::memory_order_relaxed);
  while ((current == 0 || micros < current) &&
         !behind_since_micros_.compare_exchange_weak(current, micros, std::memory_order_relaxed)) {
  }
}

UserEventConsumer::~UserEventConsumer() {
  stop_.Stop();
  {
    // A call registered before the flag was seen is cancelled here; one
    // not registered yet sees the flag (Step() checks it under mu_).
    absl::MutexLock lock(&mu_);
    if (call_ != nullptr) call_->TryCancel();
  }
  thread_.join();
}

std::chrono::milliseconds UserEventConsumer::Jittered(std::chrono::milliseconds base) {
  std::uniform_int_distribution<int64_t> jitter(base.count() / 2, base.count() * 3 / 2);
  return std::chrono::milliseconds(jitter(random_));
}

void UserEventConsumer::Run() {
  std::chrono::milliseconds backoff = options_.first_backoff;
  while (!stop_.stopped()) {
    switch (Step()) {
      case Next::kPoll:
        backoff = options_.first_backoff;
        break;
      case Next::kStandBy:
        backoff = options_.first_backoff;
        if (!stop_.SleepFor(Jittered(kStandBy))) return;
        break;
      case Next::kBackOff:
        if (!stop_.SleepFor(Jittered(backoff))) return;
        backoff = std::min(backoff * 2, options_.max_backoff);
        break;
    }
  }
}

UserEventConsumer::Next UserEventConsumer::Failed(const char* what, const absl::Status& status) {
  BehindSince(MicrosSinceEpoch(Clock::now()));
  Log(LogLevel::kWarn, "user-event consumer: retrying after a failure",
      {{"step", what},
       {"code", absl::StatusCodeToString(status.code())},
       {"cause", RedactUrl(std::string(status.message()))}});
  return Next::kBackOff;
}

UserEventConsumer::Next UserEventConsumer::Step() {
  absl::StatusOr<std::string> cursor =
      store_.ReadCursor(kUserEventsFeed, Clock::now() + kStoreTimeout);
  if (!cursor.ok()) return Failed("read cursor", cursor.status());

  v1::ListUserEventsRequest request;
  request.set_page_size(options_.page_size);
  request.set_page_token(*cursor);
  const auto wait_seconds = std::chrono::duration_cast<std::chrono::seconds>(options_.wait);
  request.mutable_wait()->set_seconds(wait_seconds.count());
  request.mutable_wait()->set_nanos(static_cast<int32_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.wait - wait_seconds).count()));
  v1::ListUserEventsResponse response;
  grpc::ClientContext context;
  context.set_deadline(Clock::now() + options_.wait + options_.call_timeout);
  {
    absl::MutexLock lock(&mu_);
    if (stop_.stopped()) return Next::kPoll;
    call_ = &context;
  }
  const grpc::Status status = users_.ListUserEvents(&context, request, &response);
  {
    absl::MutexLock lock(&mu_);
    call_ = nullptr;
  }
  if (stop_.stopped()) return Next::kPoll;
  if (status.error_code() == grpc::StatusCode::OUT_OF_RANGE) return RecoverFromOverrun(*cursor);
  if (!status.ok()) return Failed("ListUserEvents", FromGrpcStatus(status));
  if (response.next_page_token() == *cursor) {  // nothing new
    CaughtUp();
    return Next::kPoll;
  }
  if (response.events_size() > 0) {
    BehindSince(MicrosFromTimestamp(response.events(0).occur_time()));
  }

  std::vector<DeletedAuthor> deleted;
  std::vector<CredentialsRevocation> revocations;
  for (const v1::UserEvent& event : response.events()) {
    // Other kinds (later releases) need nothing from post-service.
    if (event.kind() == v1::UserEvent::KIND_USER_DELETED) {
      deleted.push_back({event.user_id(), MicrosFromTimestamp(event.occur_time())});
    } else if (event.kind() == v1::UserEvent::KIND_CREDENTIALS_CHANGED) {
      revocations.push_back(
          {event.user_id(), event.credentials_version(), MicrosFromTimestamp(event.occur_time())});
    }
  }
  absl::StatusOr<FeedPageResult> applied =
      store_.ApplyFeedPage(kUserEventsFeed, *cursor, response.next_page_token(), deleted,
                           revocations, Clock::now() + kStoreTimeout);
  if (!applied.ok()) return Failed("apply events", applied.status());
  switch (applied->outcome) {
    case FeedPageResult::kBusy:
      return Next::kStandBy;
    case FeedPageResult::kMoved:
      return Next::kPoll;
    case FeedPageResult::kApplied:
      break;
  }
  if (applied_ != nullptr) applied_->Increment(response.events_size());
  if (response.events_size() < options_.page_size) {
    CaughtUp();
  } else {
    // A full page: more may follow, none older than its last event.
    behind_since_micros_.store(
        MicrosFromTimestamp(response.events(response.events_size() - 1).occur_time()),
        std::memory_order_relaxed);
  }
  if (!deleted.empty()) {
    Log(LogLevel::kInfo, "applied user deletions",
        {{"users", static_cast<int64_t>(deleted.size())},
         {"posts_removed", applied->posts_removed},
         {"first_user", deleted.front().user_id}});
  }
  return Next::kPoll;
}

UserEventConsumer::Next UserEventConsumer::RecoverFromOverrun(const std::string& cursor) {
  Log(LogLevel::kError,
      "user-event consumer fell behind user-service's retention: events were deleted before "
      "post-service applied them; running a reconciliation pass, then restarting the feed from "
      "its oldest kept event",
      {{"feed", kUserEventsFeed}});
  absl::StatusOr<ReconcileReport> report = reconciler_.RunOnce();
  if (!report.ok()) return Failed("reconcile after retention overrun", report.status());
  Log(LogLevel::kWarn, "reconciliation after retention overrun done",
      {{"authors_checked", report->authors_checked},
       {"authors_missing", report->authors_missing},
       {"posts_removed", report->posts_removed}});
  absl::Status reset = store_.ResetCursor(kUserEventsFeed, cursor, Clock::now() + kStoreTimeout);
  if (!reset.ok()) return Failed("reset cursor", reset);
  return Next::kPoll;
}

}  // namespace post
}  // namespace microblog
