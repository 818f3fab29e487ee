// Fuzz target: page tokens (common/base/page_token.h), which clients send back
// verbatim. Any token is decoded for either listing kind and any key length;
// a decoded token must be the canonical encoding of what it decoded to, and
// encoding any key (of 1-4 values, as the listings use) must decode back to
// it. ResolvePageSize gets any size.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "common/base/page_token.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using microblog::DecodePageToken;
  using microblog::EncodePageToken;
  FuzzedDataProvider input(data, size);
  const std::string kind = input.PickValueInArray({"posts", "users", ""});
  const std::size_t count = input.ConsumeIntegralInRange<std::size_t>(1, 4);
  const int32_t page_size = input.ConsumeIntegral<int32_t>();
  std::vector<int64_t> key;
  for (std::size_t i = 0; i < count; ++i) key.push_back(input.ConsumeIntegral<int64_t>());
  const std::string token = input.ConsumeRemainingBytesAsString();

  // Every key survives a round trip.
  const absl::StatusOr<std::vector<int64_t>> round_trip =
      DecodePageToken(kind, EncodePageToken(kind, key), count);
  FUZZ_CHECK(round_trip.ok() && *round_trip == key);

  // Whatever a client sends: refused with a field violation, or canonical.
  const absl::StatusOr<std::vector<int64_t>> decoded = DecodePageToken(kind, token, count);
  if (decoded.ok()) {
    FUZZ_CHECK(decoded->size() == count);
    FUZZ_CHECK(EncodePageToken(kind, *decoded) == token);
  } else {
    FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(!microblog::FieldViolationsOf(decoded.status()).empty());
  }

  constexpr int kDefault = 20;
  constexpr int kMax = 100;
  const absl::StatusOr<int> resolved = microblog::ResolvePageSize(page_size, kDefault, kMax);
  FUZZ_CHECK(resolved.ok() == (page_size >= 0));
  if (resolved.ok()) FUZZ_CHECK(*resolved >= 1 && *resolved <= kMax);
  return 0;
}
