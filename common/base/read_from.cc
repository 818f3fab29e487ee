#include "common/base/read_from.h"

#include <cstdio>

#include "common/base/status.h"

namespace microblog {
namespace {

// One half of a pg_lsn: 1 to 8 hexadecimal digits.
bool ParseHalf(std::string_view text, uint32_t& out) {
  if (text.empty() || text.size() > 8) return false;
  uint64_t value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return false;
    }
    value = value * 16 + static_cast<uint64_t>(digit);
  }
  out = static_cast<uint32_t>(value);
  return true;
}

}  // namespace

absl::StatusOr<Lsn> ParseLsn(std::string_view text) {
  const std::size_t slash = text.find('/');
  uint32_t high = 0;
  uint32_t low = 0;
  if (slash == std::string_view::npos || !ParseHalf(text.substr(0, slash), high) ||
      !ParseHalf(text.substr(slash + 1), low)) {
    return absl::InvalidArgumentError("not a WAL position (like 16/B374D848)");
  }
  return (static_cast<Lsn>(high) << 32) | low;
}

std::string FormatLsn(Lsn lsn) {
  char text[20];
  std::snprintf(text, sizeof text, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xFFFFFFFFu));
  return text;
}

absl::StatusOr<ReadFrom> ReadFromToken(const std::string& token) {
  if (token.empty()) return ReadFrom::Replica();
  absl::StatusOr<Lsn> lsn = ParseLsn(token);
  if (!lsn.ok()) {
    return InvalidArgument({{"consistency_token",
                             "must be empty or a consistency_token returned by a write of this "
                             "service"}});
  }
  return ReadFrom::Replica(*lsn);
}

}  // namespace microblog
