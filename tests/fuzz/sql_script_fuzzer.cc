// Fuzz target: how migrate reports a failed migration file
// (migrate/sql_script.h, migrate/text_position.h): the server's error
// position, any int, into any script text. The line and column must lie
// inside the text (or just after its last character) and the description
// must name the file.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_support.h"
#include "migrate/sql_script.h"
#include "migrate/text_position.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  microblog::migrate::ScriptError error;
  error.position = input.ConsumeIntegral<int>();
  error.message = input.ConsumeRandomLengthString(64);
  const std::string script = input.ConsumeRemainingBytesAsString();

  const microblog::migrate::LineColumn at =
      microblog::migrate::PositionToLineColumn(script, error.position);
  const auto lines = std::count(script.begin(), script.end(), '\n') + 1;
  FUZZ_CHECK(at.line >= 1 && at.line <= lines);
  FUZZ_CHECK(at.column >= 1 && static_cast<std::size_t>(at.column) <= script.size() + 1);

  const std::string described = error.Describe("0001_fuzz.up.sql", script);
  FUZZ_CHECK(described.find("0001_fuzz.up.sql") != std::string::npos);
  return 0;
}
