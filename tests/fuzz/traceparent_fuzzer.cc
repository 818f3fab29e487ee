// Fuzz target: traceparent headers (common/base/trace_context.h), which any client
// may send. A value that parses must hold exactly what the specification
// allows, format to a version-00 header that parses to the same fields, and
// be that header already when it was version 00.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/trace_context.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using microblog::Traceparent;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<Traceparent> parsed = microblog::ParseTraceparent(text);
  if (!parsed.has_value()) return 0;
  FUZZ_CHECK(parsed->version != 0xff);
  FUZZ_CHECK(parsed->trace_id.size() == 32 && parsed->parent_id.size() == 16);
  FUZZ_CHECK(parsed->trace_id.find_first_not_of("0123456789abcdef") == std::string::npos);
  FUZZ_CHECK(parsed->parent_id.find_first_not_of("0123456789abcdef") == std::string::npos);
  FUZZ_CHECK(parsed->trace_id != std::string(32, '0') && parsed->parent_id != std::string(16, '0'));

  const std::string formatted = microblog::FormatTraceparent(*parsed);
  const std::optional<Traceparent> reparsed = microblog::ParseTraceparent(formatted);
  FUZZ_CHECK(reparsed.has_value() && reparsed->version == 0 &&
             reparsed->trace_id == parsed->trace_id && reparsed->parent_id == parsed->parent_id &&
             reparsed->flags == parsed->flags);
  if (parsed->version == 0) FUZZ_CHECK(formatted == text);
  return 0;
}
