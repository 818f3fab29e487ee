// The stored comparison forms of an account (migrations/user/0005): the
// columns username_canonical, username_skeleton and email_canonical, derived
// from what the person typed in this one place, for every write and lookup
// of PostgresUserStore and for the backfill of older rows
// (identity_backfill.h). The rules are common/text's: username_profile.h
// and email_address.h.
//
//   IdentityForms forms = FormsOf(username, email);
//   INSERT ... (username_canonical, ...) VALUES (forms.username_canonical, ...)
//
// A value the profile refuses has no forms (nullopt; "" as a lookup key,
// which no stored form equals): such a value can only match an account
// written before the forms existed, through lower() as before.
//
// Thread-safety: may be called concurrently.
#ifndef MICROBLOG_USER_SERVICE_IDENTITY_FORMS_H_
#define MICROBLOG_USER_SERVICE_IDENTITY_FORMS_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace microblog {
namespace user {

struct UsernameColumns {
  std::optional<std::string> canonical;
  std::optional<std::string> skeleton;
};

// The forms, or INVALID_ARGUMENT saying why the profile refuses the value
// (what the backfill reports).
absl::StatusOr<UsernameColumns> UsernameColumnsFor(std::string_view username);
absl::StatusOr<std::string> EmailCanonicalFor(std::string_view email);

// The same, with no forms (nullopt) for a refused value: what a write
// stores.
UsernameColumns UsernameColumnsOf(std::string_view username);
std::optional<std::string> EmailCanonicalOf(std::string_view email);

// The key a lookup compares with the stored form: the canonical form, or ""
// when the profile refuses `value`.
std::string UsernameLookupKey(std::string_view username);
std::string EmailLookupKey(std::string_view email);

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_IDENTITY_FORMS_H_
