#include "support/proc_status.h"

#include <filesystem>
#include <sstream>
#include <string>
#include <system_error>

#include "support/read_file.h"

namespace microblog {
namespace test_support {
namespace {

std::string ProcPath(pid_t pid, const char* file) {
  return "/proc/" + std::to_string(pid) + "/" + file;
}

}  // namespace

std::optional<int64_t> ResidentKiB(pid_t pid) {
  std::istringstream status(ReadFile(ProcPath(pid, "status")));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    int64_t kib = 0;
    if (fields >> kib) return kib;
  }
  return std::nullopt;
}

std::optional<int> OpenFileCount(pid_t pid) {
  std::error_code error;
  std::filesystem::directory_iterator it(ProcPath(pid, "fd"), error);
  if (error) return std::nullopt;
  int count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) return std::nullopt;
    ++count;
  }
  return count;
}

std::optional<int64_t> OpenFileLimit(pid_t pid) {
  std::istringstream limits(ReadFile(ProcPath(pid, "limits")));
  std::string line;
  while (std::getline(limits, line)) {
    // "Max open files            512                  512                  files"
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream fields(line.substr(14));
    int64_t soft = 0;
    if (fields >> soft) return soft;
  }
  return std::nullopt;
}

}  // namespace test_support
}  // namespace microblog
