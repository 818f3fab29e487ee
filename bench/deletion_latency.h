// The DeleteUser cascade's latency, as a client sees it: for each trial, a
// fresh user with a few posts is deleted, and the clock runs from
// DeleteUser's OK until none of its posts is served any more by GetPost
// (NOT_FOUND), ListPosts for that user, and ListPosts for everyone (first
// page). Polled every `poll_interval`; the bound proto/.../user_service.proto
// promises on DeleteUser is p99 <= 1 s.
//
//   DeletionLatencyOptions options;
//   absl::StatusOr<DeletionLatencyReport> report =
//       MeasureDeletionLatency(*users, *posts, options);
#ifndef MICROBLOG_BENCH_DELETION_LATENCY_H_
#define MICROBLOG_BENCH_DELETION_LATENCY_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/token_book.h"
#include "microblog/post/v1/post_service.grpc.pb.h"
#include "microblog/user/v1/user_service.grpc.pb.h"

namespace microblog {
namespace bench {

struct DeletionLatencyOptions {
  int trials = 200;
  int posts_per_user = 3;
  std::chrono::microseconds poll_interval{1000};
  // A trial whose posts are still served after this fails the measurement.
  std::chrono::seconds give_up{30};
  std::chrono::milliseconds call_timeout{10000};
  uint64_t seed = 1;  // makes usernames unique across runs on one database
  // The users' tokens (borrowed, required): CreatePost and DeleteUser act
  // as the trial's user.
  TokenBook* tokens = nullptr;
};

struct DeletionLatencyReport {
  std::vector<int64_t> latencies_us;  // one per trial, in trial order
  int64_t p50_us = 0;
  int64_t p99_us = 0;
  int64_t max_us = 0;
};

// Runs the trials one after the other. Errors: the first failed RPC, or
// FAILED_PRECONDITION when a trial's posts were still served after
// give_up.
absl::StatusOr<DeletionLatencyReport> MeasureDeletionLatency(
    microblog::user::v1::UserService::StubInterface& users,
    microblog::post::v1::PostService::StubInterface& posts, const DeletionLatencyOptions& options);

// Text report (what `microblog-bench deletion-latency` prints) and JSON line.
std::string DeletionLatencyText(const DeletionLatencyReport& report);
std::string DeletionLatencyJson(const DeletionLatencyReport& report,
                                const DeletionLatencyOptions& options, const std::string& label);

}  // namespace bench
}  // namespace microblog

#endif  // MICROBLOG_BENCH_DELETION_LATENCY_H_
