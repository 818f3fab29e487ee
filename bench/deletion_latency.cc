#include "bench/deletion_latency.h"

#include <algorithm>
#include <thread>
#include <unordered_set>

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/dataset.h"

namespace microblog {
namespace bench {
namespace {

using Clock = std::chrono::steady_clock;
namespace post_v1 = ::microblog::post::v1;
namespace user_v1 = ::microblog::user::v1;

absl::Status Failed(const char* rpc, const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(rpc, ": ", status.error_message()));
}

// Nearest rank, as the load generator's reports.
int64_t Percentile(std::vector<int64_t> sorted, double p) {
  if (sorted.empty()) return 0;
  std::sort(sorted.begin(), sorted.end());
  std::size_t rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::max<std::size_t>(1, std::min(rank, sorted.size()));
  return sorted[rank - 1];
}

class Trial {
 public:
  Trial(user_v1::UserService::StubInterface& users, post_v1::PostService::StubInterface& posts,
        const DeletionLatencyOptions& options)
      : users_(users), posts_(posts), options_(options) {}

  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
    return context;
  }
  // A context acting as the trial's user.
  std::unique_ptr<grpc::ClientContext> UserContext() const {
    std::unique_ptr<grpc::ClientContext> context = Context();
    if (options_.tokens != nullptr) {
      context->AddMetadata("authorization", "Bearer " + options_.tokens->TokenFor(user_id_));
    }
    return context;
  }

  // A fresh user with its posts.
  absl::Status Prepare(int index) {
    user_v1::CreateUserRequest create;
    create.set_username(absl::StrCat("cascade_", options_.seed, "_", index));
    create.set_email(absl::StrCat("cascade_", options_.seed, "_", index, "@example.com"));
    create.set_password(kBenchPassword);
    user_v1::CreateUserResponse created;
    grpc::Status status = users_.CreateUser(Context().get(), create, &created);
    if (!status.ok()) return Failed("CreateUser", status);
    user_id_ = created.user().id();
    post_ids_.clear();
    for (int i = 0; i < options_.posts_per_user; ++i) {
      post_v1::CreatePostRequest request;
      request.set_user_id(user_id_);
      request.set_body(absl::StrCat("post ", i, " of a user about to be deleted"));
      post_v1::CreatePostResponse response;
      status = posts_.CreatePost(UserContext().get(), request, &response);
      if (!status.ok()) return Failed("CreatePost", status);
      post_ids_.insert(response.post().id());
    }
    return absl::OkStatus();
  }

  absl::Status Delete() {
    user_v1::DeleteUserRequest request;
    request.set_id(user_id_);
    user_v1::DeleteUserResponse response;
    const grpc::Status status = users_.DeleteUser(UserContext().get(), request, &response);
    return status.ok() ? absl::OkStatus() : Failed("DeleteUser", status);
  }

  // Whether any read still serves one of the posts.
  absl::StatusOr<bool> StillServed() {
    for (int64_t id : post_ids_) {
      post_v1::GetPostRequest request;
      request.set_id(id);
      post_v1::GetPostResponse response;
      const grpc::Status status = posts_.GetPost(Context().get(), request, &response);
      if (status.ok()) return true;
      if (status.error_code() != grpc::StatusCode::NOT_FOUND) return Failed("GetPost", status);
    }
    for (int64_t filter : {user_id_, int64_t{0}}) {
      post_v1::ListPostsRequest request;
      request.set_user_id(filter);
      request.set_page_size(100);
      post_v1::ListPostsResponse response;
      const grpc::Status status = posts_.ListPosts(Context().get(), request, &response);
      if (!status.ok()) return Failed("ListPosts", status);
      for (const post_v1::Post& post : response.posts()) {
        if (post_ids_.count(post.id()) != 0) return true;
      }
    }
    return false;
  }

 private:
  user_v1::UserService::StubInterface& users_;
  post_v1::PostService::StubInterface& posts_;
  const DeletionLatencyOptions& options_;
  int64_t user_id_ = 0;
  std::unordered_set<int64_t> post_ids_;
};

}  // namespace

absl::StatusOr<DeletionLatencyReport> MeasureDeletionLatency(
    user_v1::UserService::StubInterface& users, post_v1::PostService::StubInterface& posts,
    const DeletionLatencyOptions& options) {
  DeletionLatencyReport report;
  Trial trial(users, posts, options);
  for (int i = 0; i < options.trials; ++i) {
    if (absl::Status prepared = trial.Prepare(i); !prepared.ok()) return prepared;
    if (absl::Status deleted = trial.Delete(); !deleted.ok()) return deleted;
    const Clock::time_point ok = Clock::now();
    for (;;) {
      absl::StatusOr<bool> served = trial.StillServed();
      if (!served.ok()) return served.status();
      const Clock::time_point now = Clock::now();
      if (!*served) {
        report.latencies_us.push_back(
            std::chrono::duration_cast<std::chrono::microseconds>(now - ok).count());
        break;
      }
      if (now - ok > options.give_up) {
        return absl::FailedPreconditionError(absl::StrCat(
            "trial ", i, ": posts still served ", options.give_up.count(), " s after DeleteUser"));
      }
      std::this_thread::sleep_for(options.poll_interval);
    }
  }
  report.p50_us = Percentile(report.latencies_us, 0.50);
  report.p99_us = Percentile(report.latencies_us, 0.99);
  report.max_us = Percentile(report.latencies_us, 1.0);
  return report;
}

std::string DeletionLatencyText(const DeletionLatencyReport& report) {
  return absl::StrCat("deletion cascade: ", report.latencies_us.size(),
                      " trials, DeleteUser OK -> posts gone from GetPost and ListPosts: p50 ",
                      report.p50_us / 1000.0, " ms, p99 ", report.p99_us / 1000.0, " ms, max ",
                      report.max_us / 1000.0, " ms\n");
}

std::string DeletionLatencyJson(const DeletionLatencyReport& report,
                                const DeletionLatencyOptions& options, const std::string& label) {
  return absl::StrCat(
      "{\"scenario\":\"DeletionCascade\",\"label\":\"", label,
      "\",\"trials\":", report.latencies_us.size(), ",\"posts_per_user\":", options.posts_per_user,
      ",\"poll_interval_us\":", options.poll_interval.count(), ",\"p50_us\":", report.p50_us,
      ",\"p99_us\":", report.p99_us, ",\"max_us\":", report.max_us, ",\"latencies_us\":[",
      absl::StrJoin(report.latencies_us, ","), "]}");
}

}  // namespace bench
}  // namespace microblog
