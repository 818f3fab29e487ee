#include "user-service/user_validation.h"

#include <locale.h>
#include <wchar.h>
#include <wctype.h>

#include <cstddef>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace microblog {
namespace user {
namespace {

// glibc's C.UTF-8 locale, loaded once; (locale_t)0 when it is not installed.
locale_t Utf8Locale() {
  static const locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return locale;
}

// True when `accept` holds for every character of `text` (valid UTF-8).
// Without the C.UTF-8 locale, every byte of a multi-byte character is passed
// as a value >= 0x80 that names no character: `accept` must refuse those.
template <typename Accept>
bool AllChars(std::string_view text, Accept accept) {
  const locale_t locale = Utf8Locale();
  if (locale == static_cast<locale_t>(0)) {
    for (char c : text) {
      if (!accept(static_cast<wint_t>(static_cast<unsigned char>(c)), locale)) return false;
    }
    return true;
  }
  // mbrtowc decodes with the calling thread's locale: switch it for the loop.
  const locale_t previous = uselocale(locale);
  bool ok = true;
  mbstate_t state{};
  for (std::size_t pos = 0; ok && pos < text.size();) {
    wchar_t c = 0;
    const std::size_t length = mbrtowc(&c, text.data() + pos, text.size() - pos, &state);
    if (length == 0 || length > text.size() - pos) {  // NUL, or invalid/incomplete
      ok = false;
    } else {
      pos += length;
      ok = accept(static_cast<wint_t>(c), locale);
    }
  }
  uselocale(previous);
  return ok;
}

bool IsNameChar(wint_t c, locale_t locale) {
  if (c < 0x80) {
    return (c >= L'a' && c <= L'z') || (c >= L'A' && c <= L'Z') || (c >= L'0' && c <= L'9') ||
           c == L'.' || c == L'_' || c == L'-';
  }
  return locale != static_cast<locale_t>(0) && iswalpha_l(c, locale);
}

bool IsEmailChar(wint_t c, locale_t locale) {
  if (c < 0x80) return c > 0x20 && c != 0x7F;
  // Without classification data, non-ASCII passes: the length check and the
  // database still bound what is stored.
  // glibc does not class no-break and zero-width spaces as spaces.
  const bool invisible_space = c == 0xA0 || c == 0x2007 || c == 0x202F ||
                               (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF;
  return locale == static_cast<locale_t>(0) ||
         !(invisible_space || iswspace_l(c, locale) || iswcntrl_l(c, locale));
}

}  // namespace

void AppendUsernameViolations(const std::string& field, std::string_view username,
                              std::vector<FieldViolation>& out) {
  const std::optional<std::size_t> chars = CountCodePoints(username);
  if (!chars.has_value()) {
    out.push_back({field, "must be valid UTF-8"});
  } else if (*chars == 0) {
    out.push_back({field, "must not be empty"});
  } else if (*chars > kMaxUsernameChars) {
    out.push_back({field, absl::StrCat("must be at most ", kMaxUsernameChars, " characters, got ",
                                       *chars)});
  } else if (!AllChars(username, IsNameChar)) {
    out.push_back({field, "may contain only letters, digits, '.', '_' and '-'"});
  }
}

void AppendEmailViolations(const std::string& field, std::string_view email,
                           std::vector<FieldViolation>& out) {
  const std::optional<std::size_t> chars = CountCodePoints(email);
  if (!chars.has_value()) {
    out.push_back({field, "must be valid UTF-8"});
    return;
  }
  if (*chars == 0) {
    out.push_back({field, "must not be empty"});
    return;
  }
  if (*chars > kMaxEmailChars) {
    out.push_back({field, absl::StrCat("must be at most ", kMaxEmailChars, " characters, got ",
                                       *chars)});
    return;
  }
  if (!AllChars(email, IsEmailChar)) {
    out.push_back({field, "must not contain whitespace or control characters"});
    return;
  }
  const std::size_t at = email.find('@');
  const std::string_view domain = at == std::string_view::npos ? "" : email.substr(at + 1);
  if (at == 0 || at == std::string_view::npos || domain.find('@') != std::string_view::npos ||
      domain.size() < 3 || domain.find('.') == std::string_view::npos || domain.front() == '.' ||
      domain.back() == '.') {
    out.push_back({field, "must have the form local@domain.tld"});
  }
}

void AppendPasswordViolations(const std::string& field, std::string_view password,
                              std::vector<FieldViolation>& out) {
  if (password.size() < kMinPasswordBytes || password.size() > kMaxPasswordBytes) {
    out.push_back({field, absl::StrCat("must be ", kMinPasswordBytes, "-", kMaxPasswordBytes,
                                       " bytes long, got ", password.size())});
  }
}

}  // namespace user
}  // namespace microblog
