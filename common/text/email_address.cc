#include "common/text/email_address.h"

#include <optional>

#include <unicode/normalizer2.h>
#include <unicode/uidna.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/text/unicode_chars.h"

namespace microblog {
namespace {

const UIDNA* TheIdna() {
  static const UIDNA* const idna = [] {
    UErrorCode status = U_ZERO_ERROR;
    UIDNA* opened = uidna_openUTS46(UIDNA_USE_STD3_RULES | UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ |
                                        UIDNA_CHECK_CONTEXTO | UIDNA_NONTRANSITIONAL_TO_ASCII |
                                        UIDNA_NONTRANSITIONAL_TO_UNICODE,
                                    &status);
    return U_SUCCESS(status) ? opened : nullptr;
  }();
  return idna;
}

}  // namespace

absl::StatusOr<std::string> EmailComparisonKey(std::string_view typed) {
  const std::optional<icu::UnicodeString> decoded = text_internal::FromUtf8(typed);
  if (!decoded.has_value()) return absl::InvalidArgumentError("must be valid UTF-8");
  for (int32_t i = 0; i < decoded->length(); i += U16_LENGTH(decoded->char32At(i))) {
    const UChar32 c = decoded->char32At(i);
    if (text_internal::IsInvisibleOrControl(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("must not contain invisible, control, formatting or space characters "
                       "(found ",
                       text_internal::CodePointName(c), ")"));
    }
  }
  const std::size_t at = typed.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == typed.size()) {
    return absl::InvalidArgumentError("must have the form local@domain.tld");
  }
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  const UIDNA* idna = TheIdna();
  if (U_FAILURE(status) || idna == nullptr) {
    return absl::InternalError("ICU's normalization or IDNA data did not load");
  }
  icu::UnicodeString local = *text_internal::FromUtf8(typed.substr(0, at));
  // Folding can undo composition ("ß" + U+0301 folds to "ss" + U+0301,
  // which composes to "sś"): normalize after it too, so that the key is
  // its own key.
  local = nfc->normalize(local, status);
  local.foldCase(U_FOLD_CASE_DEFAULT);
  local = nfc->normalize(local, status);
  if (U_FAILURE(status)) return absl::InternalError("NFC normalization failed");

  const std::string_view domain = typed.substr(at + 1);
  // Domain names are at most 253 bytes: a result that does not fit is
  // refused (U_BUFFER_OVERFLOW_ERROR).
  std::string buffer(512, '\0');
  UIDNAInfo info = UIDNA_INFO_INITIALIZER;
  const int32_t length =
      uidna_nameToASCII_UTF8(idna, domain.data(), static_cast<int32_t>(domain.size()),
                             buffer.data(), static_cast<int32_t>(buffer.size()), &info, &status);
  if (U_SUCCESS(status)) buffer.resize(static_cast<std::size_t>(length));
  if (U_FAILURE(status) || info.errors != 0 || buffer.empty()) {
    return absl::InvalidArgumentError(
        "has a domain that is not a valid internationalized domain "
        "name (IDNA, UTS #46)");
  }
  return absl::StrCat(text_internal::ToUtf8(local), "@", buffer);
}

}  // namespace microblog
