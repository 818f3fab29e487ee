#include "common/base/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/status.h"

namespace microblog {
namespace {

constexpr char kVersion[] = "v1";

absl::Status BadToken() {
  return InvalidArgument(
      {{"page_token",
        "is not a token returned by this list; start over with an empty page_token"}});
}

}  // namespace

std::string EncodePageToken(std::string_view kind, const std::vector<int64_t>& values) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(std::string(kind), ":", kVersion, ":", absl::StrJoin(values, ",")));
}

absl::StatusOr<std::vector<int64_t>> DecodePageToken(std::string_view kind, std::string_view token,
                                                     std::size_t count) {
  std::string plain;
  if (token.size() > 512 ||
      !absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &plain)) {
    return BadToken();
  }
  std::vector<std::string> parts = absl::StrSplit(plain, ':');
  if (parts.size() != 3 || parts[0] != kind || parts[1] != kVersion) return BadToken();
  std::vector<std::string> fields = absl::StrSplit(parts[2], ',');
  if (fields.size() != count) return BadToken();
  std::vector<int64_t> values;
  values.reserve(count);
  for (const std::string& field : fields) {
    int64_t value;
    if (!absl::SimpleAtoi(field, &value)) return BadToken();
    values.push_back(value);
  }
  // Only the canonical form is accepted (base64 decoding tolerates junk such
  // as a trailing partial group).
  if (EncodePageToken(kind, values) != token) return BadToken();
  return values;
}

absl::StatusOr<int> ResolvePageSize(int32_t requested, int default_size, int max_size) {
  if (requested < 0) {
    return InvalidArgument(
        {{"page_size", absl::StrCat("must not be negative (0 means ", default_size, ", at most ",
                                    max_size, ")")}});
  }
  if (requested == 0) return default_size;
  return requested > max_size ? max_size : static_cast<int>(requested);
}

}  // namespace microblog
