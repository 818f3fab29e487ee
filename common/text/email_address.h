// E-mail addresses as user-service compares them (issue 24, item 3): the
// address a person typed is kept; two addresses are the same account when
// their comparison keys are equal.
//
//   absl::StatusOr<std::string> key = EmailComparisonKey(typed);
//   if (!key.ok()) -> INVALID_ARGUMENT with key.status().message()
//
// The key is local "@" domain:
//  - the local part in NFC, Unicode full case folding, then NFC again. Most providers
//    (Gmail, Outlook, iCloud, Yahoo) treat it without regard to case, and
//    RFC 5321 §2.4 leaves it to the receiving host; we choose "the same
//    mailbox" over the rare host that tells case apart. No provider-specific
//    rules (Gmail's dots and "+tags" are kept: other providers differ);
//  - the domain as IDNA (UTS #46 non-transitional processing, ICU's
//    uidna_nameToASCII with the Bidi, CONTEXTJ and CONTEXTO checks and
//    STD3 rules): its ASCII form, lower case, so "ÉCOLE.fr", "école.fr" and
//    "xn--cole-9oa.fr" are one domain.
// Refused anywhere in the address: invisible, control, format, bidi-control
// and space characters (unicode_chars.h: U+202E, U+200E, U+00AD, U+180E,
// U+061C, U+034F, U+FFFC, ...). The shape rules (one '@', a dotted domain)
// are the caller's.
//
// Thread-safety: may be called concurrently.
#ifndef MICROBLOG_COMMON_TEXT_EMAIL_ADDRESS_H_
#define MICROBLOG_COMMON_TEXT_EMAIL_ADDRESS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace microblog {

// The comparison key of `typed` (UTF-8), or INVALID_ARGUMENT saying why
// for a person. `typed` must hold exactly one '@' with text on both sides.
absl::StatusOr<std::string> EmailComparisonKey(std::string_view typed);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_TEXT_EMAIL_ADDRESS_H_
