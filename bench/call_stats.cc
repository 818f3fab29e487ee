#include "bench/call_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace microblog {
namespace bench {
namespace {

constexpr const char* kCodeNames[CallStats::kCodeCount] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

double Millis(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

// Nearest-rank percentile of sorted samples: the smallest sample such that at
// least `q` of all samples are <= it.
std::int64_t Percentile(const std::vector<std::int64_t>& sorted, double q) {
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(q * n));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace

std::string StatusCodeName(int code) {
  if (code >= 0 && code < CallStats::kCodeCount) return kCodeNames[code];
  return "CODE_" + std::to_string(code);
}

void CallStats::Record(std::chrono::nanoseconds latency, grpc::StatusCode code) {
  latencies_ns_.push_back(latency.count());
  const int index = static_cast<int>(code);
  ++codes_[index >= 0 && index < kCodeCount ? index : kCodeCount];
}

void CallStats::Merge(const CallStats& other) {
  latencies_ns_.insert(latencies_ns_.end(), other.latencies_ns_.begin(), other.latencies_ns_.end());
  for (std::size_t i = 0; i < codes_.size(); ++i) codes_[i] += other.codes_[i];
}

std::int64_t CallStats::count(grpc::StatusCode code) const {
  const int index = static_cast<int>(code);
  return index >= 0 && index < kCodeCount ? codes_[index] : codes_[kCodeCount];
}

std::map<std::string, std::int64_t> CallStats::StatusCounts() const {
  std::map<std::string, std::int64_t> counts;
  for (int i = 0; i < kCodeCount; ++i) {
    if (codes_[i] > 0) counts[kCodeNames[i]] = codes_[i];
  }
  if (codes_[kCodeCount] > 0) counts["OTHER"] = codes_[kCodeCount];
  return counts;
}

LatencySummary CallStats::Summarize() {
  LatencySummary summary;
  if (latencies_ns_.empty()) return summary;
  std::sort(latencies_ns_.begin(), latencies_ns_.end());
  const double sum = std::accumulate(latencies_ns_.begin(), latencies_ns_.end(), 0.0);
  summary.mean_ms = sum / static_cast<double>(latencies_ns_.size()) / 1e6;
  summary.p50_ms = Millis(Percentile(latencies_ns_, 0.50));
  summary.p90_ms = Millis(Percentile(latencies_ns_, 0.90));
  summary.p99_ms = Millis(Percentile(latencies_ns_, 0.99));
  summary.p999_ms = Millis(Percentile(latencies_ns_, 0.999));
  summary.max_ms = Millis(latencies_ns_.back());
  return summary;
}

}  // namespace bench
}  // namespace microblog
