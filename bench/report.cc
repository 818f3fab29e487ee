#include "bench/report.h"

#include <cstdio>
#include <sstream>

namespace microblog {
namespace bench {
namespace {

// Numbers as JSON wants them (no locale, no NaN: our numbers are finite).
std::string Number(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.4f", value);
  return buffer;
}

// Keys and values here are ours (scenario, operation and status code names),
// but escape quotes and backslashes all the same.
std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string LatencyJson(const LatencySummary& l) {
  return "{\"mean\":" + Number(l.mean_ms) + ",\"p50\":" + Number(l.p50_ms) +
         ",\"p90\":" + Number(l.p90_ms) + ",\"p99\":" + Number(l.p99_ms) +
         ",\"p999\":" + Number(l.p999_ms) + ",\"max\":" + Number(l.max_ms) + "}";
}

std::string CountsJson(const std::map<std::string, std::int64_t>& counts) {
  std::string out = "{";
  for (const auto& [name, count] : counts) {
    if (out.size() > 1) out += ",";
    out += Quoted(name) + ":" + std::to_string(count);
  }
  return out + "}";
}

std::string CountsText(const std::map<std::string, std::int64_t>& counts) {
  std::string out;
  for (const auto& [name, count] : counts) {
    if (!out.empty()) out += " ";
    out += name + "=" + std::to_string(count);
  }
  return out.empty() ? "(none)" : out;
}

std::string LatencyText(const LatencySummary& l) {
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer),
                "p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms", l.p50_ms,
                l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms);
  return buffer;
}

}  // namespace

std::string ReportText(const LoadReport& r) {
  std::ostringstream out;
  char line[160];
  std::snprintf(line, sizeof(line),
                "%s: %d in flight over %d channels, %.1f s, %lld calls, %.1f calls/s\n",
                r.scenario.c_str(), r.in_flight, r.channels, r.seconds,
                static_cast<long long>(r.calls), r.calls_per_second);
  out << line;
  if (r.rate > 0) {
    std::snprintf(line, sizeof(line),
                  "  paced: %.1f calls/s asked, latency from each call's due time\n", r.rate);
    out << line;
  }
  out << "  latency: " << LatencyText(r.latency) << "\n";
  out << "  status:  " << CountsText(r.status_counts) << "\n";
  std::snprintf(line, sizeof(line), "  client CPU: %.2f s (%.0f %% of one core)\n",
                r.client_cpu_seconds, r.seconds > 0 ? 100 * r.client_cpu_seconds / r.seconds : 0.0);
  out << line;
  if (r.operations.size() > 1) {
    for (const auto& [name, op] : r.operations) {
      out << "  " << name << ": " << op.calls << " calls, " << LatencyText(op.latency) << ", "
          << CountsText(op.status_counts) << "\n";
    }
  }
  return out.str();
}

std::string ReportJson(const LoadReport& r) {
  std::string out = "{\"scenario\":" + Quoted(r.scenario) +
                    ",\"in_flight\":" + std::to_string(r.in_flight) +
                    ",\"channels\":" + std::to_string(r.channels) +
                    (r.rate > 0 ? ",\"rate\":" + Number(r.rate) : std::string()) +
                    ",\"seconds\":" + Number(r.seconds) + ",\"calls\":" + std::to_string(r.calls) +
                    ",\"calls_per_second\":" + Number(r.calls_per_second) +
                    ",\"client_cpu_seconds\":" + Number(r.client_cpu_seconds) +
                    ",\"latency_ms\":" + LatencyJson(r.latency) +
                    ",\"status_counts\":" + CountsJson(r.status_counts) + ",\"operations\":{";
  bool first = true;
  for (const auto& [name, op] : r.operations) {
    if (!first) out += ",";
    first = false;
    out += Quoted(name) + ":{\"calls\":" + std::to_string(op.calls) +
           ",\"latency_ms\":" + LatencyJson(op.latency) +
           ",\"status_counts\":" + CountsJson(op.status_counts) + "}";
  }
  return out + "}}";
}

std::string PwhashJson(const PwhashSpeed& s) {
  return "{\"threads\":" + std::to_string(s.threads) + ",\"hashes\":" + std::to_string(s.hashes) +
         ",\"seconds\":" + Number(s.seconds) +
         ",\"hashes_per_second\":" + Number(s.hashes_per_second) +
         ",\"opslimit\":" + std::to_string(s.opslimit) +
         ",\"memlimit_bytes\":" + std::to_string(s.memlimit_bytes) + "}";
}

}  // namespace bench
}  // namespace microblog
