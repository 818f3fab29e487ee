// Fuzz target: migration file names (migrate/migration_files.h), read from a
// directory anyone may have put files in. A name that parses must be exactly
// the one its parts spell: version, name and direction, nothing else.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "migrate/migration_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using microblog::migrate::MigrationFileName;
  const std::string_view file_name(reinterpret_cast<const char*>(data), size);
  const std::optional<MigrationFileName> parsed =
      microblog::migrate::ParseMigrationFileName(file_name);
  if (!parsed.has_value()) return 0;
  FUZZ_CHECK(parsed->version >= 0 && parsed->version <= 9999);
  FUZZ_CHECK(!parsed->name.empty());
  FUZZ_CHECK(microblog::migrate::FormatVersion(parsed->version) + "_" + parsed->name +
                 (parsed->is_up ? ".up.sql" : ".down.sql") ==
             file_name);
  return 0;
}
