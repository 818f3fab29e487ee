// The standard process metrics every Prometheus client exports (read from
// /proc at each scrape) and microblog_build_info:
//
//   process_cpu_seconds_total, process_resident_memory_bytes,
//   process_virtual_memory_bytes, process_open_fds, process_max_fds,
//   process_start_time_seconds, microblog_build_info{version, commit} 1
//
//   AddProcessMetrics(registry);
//
// Thread-safety: the collector runs at scrape time on the metrics server's
// thread; it only reads /proc.
#ifndef MICROBLOG_COMMON_SERVICE_PROCESS_METRICS_H_
#define MICROBLOG_COMMON_SERVICE_PROCESS_METRICS_H_

#include "common/base/metrics.h"

namespace microblog {

// Adds the collector to `registry` (borrowed).
void AddProcessMetrics(Registry& registry);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_SERVICE_PROCESS_METRICS_H_
