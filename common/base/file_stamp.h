// What tells a changed file from an unchanged one without reading it: its
// inode, size and modification time. Files that are reloaded when they
// change (the access-token key set, the authorization policy) compare
// stamps once a second. A Kubernetes ConfigMap volume swaps a symlink to a
// new directory on update, which changes the inode even when the size and
// time happen to match.
//
//   FileStamp stamp;
//   absl::StatusOr<std::string> text = ReadStampedFile(path, &stamp);
//   ...
//   if (StampOf(path) != stamp) { /* read again */ }
//
// Thread-safety: plain values and free functions.
#ifndef MICROBLOG_COMMON_BASE_FILE_STAMP_H_
#define MICROBLOG_COMMON_BASE_FILE_STAMP_H_

#include <sys/stat.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace microblog {

struct FileStamp {
  ino_t inode = 0;
  off_t size = 0;
  timespec mtime{};
  bool operator==(const FileStamp& o) const;
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};

// The stamp of `path` now; nullopt when it cannot be stat()ed (e.g. while
// a ConfigMap swaps its link).
std::optional<FileStamp> StampOf(const std::string& path);

// The contents of `path`, and in `*stamp` the stamp they were read under;
// INVALID_ARGUMENT "cannot read <what> <path>" when it cannot be read.
absl::StatusOr<std::string> ReadStampedFile(const std::string& path, const std::string& what,
                                            FileStamp* stamp);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_FILE_STAMP_H_
