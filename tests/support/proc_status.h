// What Linux reports about a running process, read from /proc: its resident
// memory and its open file descriptors, for tests that check a service's
// resources after an attack (tests/e2e/network_fuzz_test.cc,
// tests/e2e/hostile_client_test.cc).
//
//   std::optional<int64_t> kib = ResidentKiB(service.pid());
//
// Each function reads /proc afresh; nullopt when the process is gone or the
// file cannot be read.
#ifndef MICROBLOG_TESTS_SUPPORT_PROC_STATUS_H_
#define MICROBLOG_TESTS_SUPPORT_PROC_STATUS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace microblog {
namespace test_support {

// VmRSS of /proc/<pid>/status, in KiB.
std::optional<int64_t> ResidentKiB(pid_t pid);

// The number of entries of /proc/<pid>/fd.
std::optional<int> OpenFileCount(pid_t pid);

// The soft "Max open files" of /proc/<pid>/limits.
std::optional<int64_t> OpenFileLimit(pid_t pid);

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_PROC_STATUS_H_
