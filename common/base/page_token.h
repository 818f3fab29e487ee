// Opaque page tokens for keyset pagination.
//
// A token carries the sort key of the last row of a page plus the filter it
// was issued for, so that a token reused with another filter is rejected.
// The encoding is url-safe base64 of a versioned text form; clients must
// treat it as opaque.
//
//   std::string token = EncodePageToken("posts", {user_id, last_micros, last_id});
//   absl::StatusOr<std::vector<int64_t>> key = DecodePageToken("posts", token, 3);
#ifndef MICROBLOG_COMMON_BASE_PAGE_TOKEN_H_
#define MICROBLOG_COMMON_BASE_PAGE_TOKEN_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace microblog {

// `kind` names the listing ("users", "posts"), so that a token of one list
// is not accepted by another.
std::string EncodePageToken(std::string_view kind, const std::vector<int64_t>& values);

// INVALID_ARGUMENT with a field violation on "page_token" when `token` was
// not produced by EncodePageToken(kind, <`count` values>).
absl::StatusOr<std::vector<int64_t>> DecodePageToken(std::string_view kind, std::string_view token,
                                                     std::size_t count);

// Page sizes: 0 -> `default_size`; above `max_size` -> `max_size`;
// negative -> INVALID_ARGUMENT (field violation on "page_size").
absl::StatusOr<int> ResolvePageSize(int32_t requested, int default_size, int max_size);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_PAGE_TOKEN_H_
