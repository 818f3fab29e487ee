#include "post-service/cascade/reconciler.h"

#include <algorithm>
#include <thread>
#include <unordered_set>
#include <utility>

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/log.h"

namespace microblog {
namespace post {
namespace {

// Upper bound of one database step of the pass.
constexpr std::chrono::seconds kStoreTimeout{60};

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

Reconciler::Reconciler(DeletedAuthorsStore& store,
                       microblog::user::v1::UserService::StubInterface& users,
                       ReconcileOptions options)
    : store_(store), users_(users), options_(std::move(options)) {}

absl::StatusOr<std::vector<int64_t>> Reconciler::Missing(const std::vector<int64_t>& ids) {
  grpc::ClientContext context;
  context.set_deadline(Clock::now() + options_.call_timeout);
  microblog::user::v1::BatchGetUsersRequest request;
  for (int64_t id : ids) request.add_ids(id);
  microblog::user::v1::BatchGetUsersResponse response;
  const grpc::Status status = users_.BatchGetUsers(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("BatchGetUsers failed: ", status.error_message()));
  }
  std::unordered_set<int64_t> found;
  for (const microblog::user::v1::User& user : response.users()) found.insert(user.id());
  std::vector<int64_t> missing;
  for (int64_t id : ids) {
    if (found.count(id) == 0) missing.push_back(id);
  }
  return missing;
}

absl::StatusOr<ReconcileReport> Reconciler::RunOnce() {
  ReconcileReport report;
  const auto pause = std::chrono::microseconds(1000000 / std::max(1, options_.batches_per_second));
  int64_t after = 0;
  for (;;) {
    const Clock::time_point batch_start = Clock::now();
    absl::StatusOr<std::vector<int64_t>> authors =
        store_.AuthorsAfter(after, options_.batch_size, Clock::now() + kStoreTimeout);
    if (!authors.ok()) return authors.status();
    if (authors->empty()) return report;
    report.authors_checked += static_cast<int64_t>(authors->size());
    after = authors->back();

    absl::StatusOr<std::vector<int64_t>> missing = Missing(*authors);
    if (!missing.ok()) return missing.status();
    if (!missing->empty()) {
      std::vector<DeletedAuthor> removed;
      const int64_t now = NowMicros();
      for (int64_t id : *missing) removed.push_back({id, now});
      absl::StatusOr<int64_t> posts =
          store_.RemoveAuthors(removed, RemovalSource::kReconcile, Clock::now() + kStoreTimeout);
      if (!posts.ok()) return posts.status();
      report.authors_missing += static_cast<int64_t>(missing->size());
      report.posts_removed += *posts;
      for (int64_t id : *missing) {
        if (report.missing_users.size() < kMaxListedMissing) report.missing_users.push_back(id);
      }
      Log(LogLevel::kInfo, "reconcile removed the posts of users that do not exist",
          {{"users", static_cast<int64_t>(missing->size())}, {"posts", *posts}});
    }
    std::this_thread::sleep_until(batch_start + pause);
  }
}

}  // namespace post
}  // namespace microblog
