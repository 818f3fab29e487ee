#include "common/rpc/bearer_token.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace microblog {
namespace {

absl::Status Malformed() {
  return absl::UnauthenticatedError(
      "malformed authorization metadata: expected one \"Bearer <token>\"");
}

}  // namespace

absl::StatusOr<std::optional<std::string_view>> BearerTokenOf(
    const std::vector<std::string_view>& values) {
  if (values.empty()) return std::nullopt;
  if (values.size() > 1) return Malformed();
  std::string_view value = values.front();
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(value.data(), kScheme.size()),
                              absl::string_view(kScheme.data(), kScheme.size()))) {
    return Malformed();
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return Malformed();
  return value;
}

}  // namespace microblog
