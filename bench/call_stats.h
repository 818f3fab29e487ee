// What the load generator learns from finished calls: how many ended with
// each gRPC status code, and how long each took.
//
// A CallStats belongs to one call slot while the load runs (no locking: a
// slot has one call in flight at a time); the slots' stats are merged once
// the run is over and then summarized:
//
//   CallStats total;
//   for (const CallStats& s : per_slot) total.Merge(s);
//   LatencySummary l = total.Summarize();   // sorts the samples
#ifndef MICROBLOG_BENCH_CALL_STATS_H_
#define MICROBLOG_BENCH_CALL_STATS_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

namespace microblog {
namespace bench {

// Latency percentiles in milliseconds (nearest-rank on every sample, no
// histogram buckets). All zero when there were no calls.
struct LatencySummary {
  double mean_ms = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double p999_ms = 0;
  double max_ms = 0;
};

// "OK", "CANCELLED", ..., "UNAUTHENTICATED" (the names of grpc::StatusCode as
// the gRPC docs spell them); "CODE_<n>" for a number outside the enum.
std::string StatusCodeName(int code);

class CallStats {
 public:
  // gRPC status codes run from 0 (OK) to 16 (UNAUTHENTICATED).
  static constexpr int kCodeCount = 17;

  void Record(std::chrono::nanoseconds latency, grpc::StatusCode code);
  void Merge(const CallStats& other);

  std::int64_t calls() const { return static_cast<std::int64_t>(latencies_ns_.size()); }
  std::int64_t count(grpc::StatusCode code) const;
  // Counts by StatusCodeName, only the codes that occurred.
  std::map<std::string, std::int64_t> StatusCounts() const;

  // Sorts the samples in place (hence not const) and computes percentiles.
  LatencySummary Summarize();

 private:
  std::vector<std::int64_t> latencies_ns_;
  std::array<std::int64_t, kCodeCount + 1> codes_{};  // last entry: out of range
};

}  // namespace bench
}  // namespace microblog

#endif  // MICROBLOG_BENCH_CALL_STATS_H_
