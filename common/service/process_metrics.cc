#include "common/service/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef MICROBLOG_VERSION
#define MICROBLOG_VERSION "unknown"
#endif
#ifndef MICROBLOG_COMMIT
#define MICROBLOG_COMMIT "unknown"
#endif

namespace microblog {
namespace {

// The fields of /proc/self/stat after the command name, numbered as in
// proc(5) (field 3, state, is index 0).
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const std::size_t end_of_name = line.rfind(')');
  std::vector<std::string> fields;
  if (end_of_name == std::string::npos) return fields;
  std::istringstream rest(line.substr(end_of_name + 2));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double btime = 0;
      in >> btime;
      return btime;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return 0;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory stream's own descriptor
}

void Collect(Registry::Samples& out) {
  const std::vector<std::string> stat = StatFields();
  if (stat.size() > 21) {
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    // utime (14), stime (15), starttime (22), vsize (23), rss (24).
    out.push_back({"process_cpu_seconds_total",
                   "Total user and system CPU time spent in seconds.",
                   "counter",
                   {},
                   (std::stod(stat[11]) + std::stod(stat[12])) / ticks});
    out.push_back({"process_start_time_seconds",
                   "Start time of the process since unix epoch in seconds.",
                   "gauge",
                   {},
                   BootTimeSeconds() + std::stod(stat[19]) / ticks});
    out.push_back({"process_virtual_memory_bytes",
                   "Virtual memory size in bytes.",
                   "gauge",
                   {},
                   std::stod(stat[20])});
    out.push_back({"process_resident_memory_bytes",
                   "Resident memory size in bytes.",
                   "gauge",
                   {},
                   std::stod(stat[21]) * page});
  }
  out.push_back({"process_open_fds", "Number of open file descriptors.", "gauge", {}, OpenFds()});
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back({"process_max_fds",
                   "Maximum number of open file descriptors.",
                   "gauge",
                   {},
                   static_cast<double>(limit.rlim_cur)});
  }
  out.push_back({"microblog_build_info",
                 "The release and commit this binary was built from; always 1.",
                 "gauge",
                 {{"version", MICROBLOG_VERSION}, {"commit", MICROBLOG_COMMIT}},
                 1});
}

}  // namespace

void AddProcessMetrics(Registry& registry) { registry.AddCollector(&Collect); }

}  // namespace microblog
