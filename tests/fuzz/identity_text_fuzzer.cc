// Fuzz target: the username profile, e-mail comparison keys and visible
// text (common/text/), which see every username, e-mail and post body a
// client sends. Any bytes, as each of the three; properties:
//  - a username the profile accepts has a non-empty canonical form that is
//    itself accepted, with the same canonical form and skeleton (the
//    mapping is idempotent, so the stored form is a fixed point), and it
//    is visible text; a refusal is INVALID_ARGUMENT with a message;
//  - an accepted e-mail's key holds '@', an ASCII domain, and is its own
//    key;
//  - nothing crashes or trips the sanitizers (ASan, UBSan).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/text/email_address.h"
#include "common/text/username_profile.h"
#include "common/text/visible_text.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  const absl::StatusOr<microblog::UsernameForms> forms = microblog::PrepareUsername(text);
  if (forms.ok()) {
    FUZZ_CHECK(!forms->canonical.empty());
    FUZZ_CHECK(!forms->skeleton.empty());
    FUZZ_CHECK(microblog::HasVisibleCharacter(text));
    const absl::StatusOr<microblog::UsernameForms> again =
        microblog::PrepareUsername(forms->canonical);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->canonical == forms->canonical);
    FUZZ_CHECK(again->skeleton == forms->skeleton);
  } else {
    FUZZ_CHECK(forms.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(!forms.status().message().empty());
  }

  const absl::StatusOr<std::string> key = microblog::EmailComparisonKey(text);
  if (key.ok()) {
    const std::size_t at = key->rfind('@');
    FUZZ_CHECK(at != std::string::npos && at > 0 && at + 1 < key->size());
    for (std::size_t i = at + 1; i < key->size(); ++i) {
      FUZZ_CHECK(static_cast<unsigned char>((*key)[i]) < 0x80);
    }
    const absl::StatusOr<std::string> again = microblog::EmailComparisonKey(*key);
    FUZZ_CHECK(again.ok() && *again == *key);
  } else {
    FUZZ_CHECK(key.status().code() == absl::StatusCode::kInvalidArgument);
  }

  (void)microblog::HasVisibleCharacter(text);
  return 0;
}
