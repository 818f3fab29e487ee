// Rendering of the load generator's results: a human-readable block for the
// terminal and one JSON object per run for bench/run.sh (which assembles the
// tables in bench/results/).
//
//   std::cout << ReportText(report);
//   out << ReportJson(report) << "\n";
#ifndef MICROBLOG_BENCH_REPORT_H_
#define MICROBLOG_BENCH_REPORT_H_

#include <string>

#include "bench/load_generator.h"
#include "bench/pwhash_speed.h"

namespace microblog {
namespace bench {

// Several lines: scenario, calls/s, latency percentiles, status counts, and
// one line per operation for the mix.
std::string ReportText(const LoadReport& report);

// One JSON object (no trailing newline). Latencies in milliseconds:
// {"scenario":"GetUser","in_flight":16,"channels":4,"seconds":10.0,
//  "calls":123,"calls_per_second":12.3,"client_cpu_seconds":4.5,
//  "latency_ms":{"mean":..,"p50":..,"p90":..,"p99":..,"p999":..,"max":..},
//  "status_counts":{"OK":123},
//  "operations":{"GetUser":{"calls":123,"latency_ms":{..},"status_counts":{..}}}}
std::string ReportJson(const LoadReport& report);

// {"threads":2,"hashes":40,"seconds":2.0,"hashes_per_second":20.0,
//  "opslimit":2,"memlimit_bytes":67108864}
std::string PwhashJson(const PwhashSpeed& speed);

}  // namespace bench
}  // namespace microblog

#endif  // MICROBLOG_BENCH_REPORT_H_
