// The whole content of a file, for tests: logs, rendered manifests,
// certificates. A file that cannot be opened reads as "" (callers show
// what they read; a missing file then shows as nothing).
#ifndef MICROBLOG_TESTS_SUPPORT_READ_FILE_H_
#define MICROBLOG_TESTS_SUPPORT_READ_FILE_H_

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace microblog {
namespace test_support {

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_READ_FILE_H_
