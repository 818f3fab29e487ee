#include "common/base/file_stamp.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace microblog {

bool FileStamp::operator==(const FileStamp& o) const {
  return inode == o.inode && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
         mtime.tv_nsec == o.mtime.tv_nsec;
}

std::optional<FileStamp> StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_ino, st.st_size, st.st_mtim};
}

absl::StatusOr<std::string> ReadStampedFile(const std::string& path, const std::string& what,
                                            FileStamp* stamp) {
  // The stamp first: a change during the read shows as a new stamp on the
  // next check, so the newer contents are read then.
  const std::optional<FileStamp> before = StampOf(path);
  std::ifstream in(path, std::ios::binary);
  if (!in || !before.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  *stamp = *before;
  return text.str();
}

}  // namespace microblog
