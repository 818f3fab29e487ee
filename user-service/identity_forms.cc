#include "user-service/identity_forms.h"

#include <utility>

#include "absl/status/statusor.h"
#include "common/text/email_address.h"
#include "common/text/username_profile.h"

namespace microblog {
namespace user {

absl::StatusOr<UsernameColumns> UsernameColumnsFor(std::string_view username) {
  absl::StatusOr<UsernameForms> forms = PrepareUsername(username);
  if (!forms.ok()) return forms.status();
  return UsernameColumns{std::move(forms->canonical), std::move(forms->skeleton)};
}

absl::StatusOr<std::string> EmailCanonicalFor(std::string_view email) {
  return EmailComparisonKey(email);
}

UsernameColumns UsernameColumnsOf(std::string_view username) {
  absl::StatusOr<UsernameColumns> columns = UsernameColumnsFor(username);
  return columns.ok() ? std::move(*columns) : UsernameColumns{};
}

std::optional<std::string> EmailCanonicalOf(std::string_view email) {
  absl::StatusOr<std::string> key = EmailCanonicalFor(email);
  if (!key.ok()) return std::nullopt;
  return std::move(*key);
}

std::string UsernameLookupKey(std::string_view username) {
  return UsernameColumnsOf(username).canonical.value_or("");
}

std::string EmailLookupKey(std::string_view email) { return EmailCanonicalOf(email).value_or(""); }

}  // namespace user
}  // namespace microblog
