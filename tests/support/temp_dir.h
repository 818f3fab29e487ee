// A fresh directory under /tmp for one test, removed with everything in it
// when the TempDir is destroyed.
//
//   TempDir dir("mbmig");  // /tmp/mbmig-XXXXXX
//   std::ofstream(dir.path() / "file") << "content";
#ifndef MICROBLOG_TESTS_SUPPORT_TEMP_DIR_H_
#define MICROBLOG_TESTS_SUPPORT_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace microblog {
namespace test_support {

class TempDir {
 public:
  // Creates /tmp/<prefix>-XXXXXX; throws std::runtime_error when it cannot.
  explicit TempDir(const std::string& prefix) {
    std::string name = "/tmp/" + prefix + "-XXXXXX";
    if (mkdtemp(name.data()) == nullptr) throw std::runtime_error("mkdtemp " + name + " failed");
    path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_TEMP_DIR_H_
