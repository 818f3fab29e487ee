// Opaque page tokens for keyset pagination, and the rule every listing
// pages by.
//
// A token carries the sort key of the last row of a page plus the filter it
// was issued for, so that a token reused with another filter is rejected.
// The encoding is url-safe base64 of a versioned text form; clients must
// treat it as opaque.
//
//   std::string token = EncodePageToken("posts", {user_id, last_micros, last_id});
//   absl::StatusOr<std::vector<int64_t>> key = DecodePageToken("posts", token, 3);
//
// "One row more": a listing's logic asks its store for PageRowLimit(page_size)
// rows and cuts them with TrimToPage(), which says whether another page
// follows, so that the last page carries no token and no client fetches an
// empty page after it. The stores only read "up to `limit` rows after a key".
//
//   std::vector<UserRecord> users = store.ListAfter(after_id, PageRowLimit(size), ...);
//   if (TrimToPage(users, size)) token = EncodeListUsersToken(users.back().id);
//
// Thread-safety: free functions without shared state.
#ifndef MICROBLOG_COMMON_BASE_PAGE_TOKEN_H_
#define MICROBLOG_COMMON_BASE_PAGE_TOKEN_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace microblog {

// The page sizes of both APIs' listings (ListUsers, ListPosts: their protos
// say so): 0 asks for kDefaultPageSize, more than kMaxPageSize gets
// kMaxPageSize (ResolvePageSize). ListUserEvents, a feed, has its own.
inline constexpr int kDefaultPageSize = 20;
inline constexpr int kMaxPageSize = 100;

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

// The rows to read for a page of `page_size` (resolved, positive): one more
// than the page, which tells whether another page follows.
inline int PageRowLimit(int page_size) { return page_size + 1; }

// Cuts `rows`, read with PageRowLimit(page_size), to the page; true when
// another page follows (a row beyond the page was read).
template <typename Row>
bool TrimToPage(std::vector<Row>& rows, int page_size) {
  if (rows.size() <= static_cast<std::size_t>(page_size)) return false;
  rows.erase(rows.begin() + page_size, rows.end());
  return true;
}

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_PAGE_TOKEN_H_
