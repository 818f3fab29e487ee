// Input rules of UserService (see proto/microblog/user/v1/user_service.proto),
// checked before any query so that bad input never reaches the database and
// every bad field is reported at once.
//
// Each function returns the violations of one field (empty when it is fine);
// callers collect them and return InvalidArgument(violations) when any.
//
//   std::vector<FieldViolation> bad;
//   AppendUsernameViolations("username", request.username(), bad);
//   AppendEmailViolations("email", request.email(), bad);
//   if (!bad.empty()) return InvalidArgument(bad);
//
// Rules:
//  - username: 1-64 characters (Unicode code points, as PostgreSQL's
//    varchar(64) counts them) of letters, digits, '.', '_' and '-'.
//    "Letter" is the Unicode classification of glibc's C.UTF-8 locale
//    (iswalpha), so "Ærøskøbing", "Жуков" and "山田" are valid names while
//    spaces, punctuation, symbols, emoji, control characters and combining
//    marks are not (write "é" precomposed, U+00E9, not as "e" + U+0301).
//    If the C.UTF-8 locale is missing, only ASCII letters are accepted.
//  - email: at most 120 characters, local@domain: exactly one '@', a
//    non-empty local part, a domain holding a '.' that neither starts nor
//    ends it, and no whitespace or control characters anywhere. Deliberately
//    looser than RFC 5322: delivery, not syntax, proves an address.
//  - password: 8-1024 bytes (bytes, not characters: the hash input is bytes).
//    Any bytes are allowed.
//
// Thread-safety: all functions may be called concurrently.
#ifndef MICROBLOG_USER_SERVICE_USER_VALIDATION_H_
#define MICROBLOG_USER_SERVICE_USER_VALIDATION_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace microblog {
namespace user {

inline constexpr std::size_t kMaxUsernameChars = 64;
inline constexpr std::size_t kMaxEmailChars = 120;
inline constexpr std::size_t kMinPasswordBytes = 8;
inline constexpr std::size_t kMaxPasswordBytes = 1024;

// Each appends at most one violation, for `field` (the request's field path,
// e.g. "username" or "login"), to `out`.
void AppendUsernameViolations(const std::string& field, std::string_view username,
                              std::vector<FieldViolation>& out);
void AppendEmailViolations(const std::string& field, std::string_view email,
                           std::vector<FieldViolation>& out);
void AppendPasswordViolations(const std::string& field, std::string_view password,
                              std::vector<FieldViolation>& out);

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_USER_VALIDATION_H_
