// The username profile of microblog (issue 24): which names are allowed,
// and the forms two names are compared in. One function, used for every
// username user-service stores or looks up.
//
//   absl::StatusOr<UsernameForms> forms = PrepareUsername(typed);
//   if (!forms.ok()) -> INVALID_ARGUMENT with forms.status().message()
//   store typed (shown to people), forms->canonical (unique: the same name),
//   forms->skeleton (unique: a name that looks the same)
//
// The profile is RFC 8265's UsernameCaseMapped (PRECIS, RFC 8264), made
// stricter in three places; each step is ICU's, no Unicode table is ours:
//  1. Width mapping (RFC 8265 §3.3.1 step 1): a fullwidth or halfwidth
//     character (decomposition type <wide> or <narrow>) becomes its
//     decomposition: "ａｄａ" is "ada".
//  2. Case mapping: Unicode full case folding (u_strFoldCase, default), not
//     RFC 8265's toLowerCase. Stricter: "straße" is "strasse", final sigma is
//     sigma, the KELVIN SIGN is "k" (as toLowerCase also gives).
//  3. Normalization: NFC. A decomposed "e\u0301mile" is "émile".
//  4. Directionality: the Bidi Rule of RFC 5893 (RFC 8265 §3.3.1 step 4).
//  5. Allowed characters, checked on the result (stricter than PRECIS's
//     IdentifierClass): letters (Ll, Lu, Lo, Lm), combining marks (Mn, Mc)
//     and decimal digits (Nd) that UTS #39 §3.1 lists as Identifier_Status
//     Allowed (ICU's recommended set: no obsolete, technical or
//     compatibility characters: "𝐚𝐝𝐚" and "①" are refused), plus '.', '_'
//     and '-'. Refused with their own message: invisible, control, format,
//     default-ignorable and bidi-control characters (U+3164, U+115F, U+200B,
//     U+202E, ...); names without a letter or digit (".", "..", "-").
//  6. Scripts: UTS #39 §5.2 "Moderately Restrictive": one script, or Latin
//     with Han, Hiragana and Katakana (or with Han and Bopomofo, or Hangul),
//     or Latin with one other script that is neither Cyrillic nor Greek;
//     digits of one numbering system; no repeated combining mark. "аda"
//     (Cyrillic а) and "ΑDA" (Greek Α) are refused.
// The skeleton is UTS #39's (ICU uspoof_getSkeleton) of the canonical form:
// whole-script look-alikes (all-Cyrillic "асе" against "ace") and
// look-alikes within a script ("rn" against "m", "l" against "1") share it.
//
// Thread-safety: may be called concurrently (the ICU objects are built once
// and only read).
#ifndef MICROBLOG_COMMON_TEXT_USERNAME_PROFILE_H_
#define MICROBLOG_COMMON_TEXT_USERNAME_PROFILE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace microblog {

struct UsernameForms {
  // Width-mapped, case-folded, NFC (UTF-8): equal for the same name.
  std::string canonical;
  // UTS #39 skeleton of `canonical` (UTF-8): equal for names that look
  // alike. Never shown to anyone.
  std::string skeleton;
};

// The comparison forms of `typed`, or INVALID_ARGUMENT whose message says,
// for a person, what is wrong ("must not contain invisible or formatting
// characters (U+3164)"). Lengths are the caller's rule; invalid UTF-8 is
// refused.
absl::StatusOr<UsernameForms> PrepareUsername(std::string_view typed);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_TEXT_USERNAME_PROFILE_H_
