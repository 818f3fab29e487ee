#include "migrate/migration_files.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "migrate/errors.h"
#include "migrate/sha256.h"

namespace microblog {
namespace migrate {
namespace {

namespace fs = std::filesystem;

constexpr char kLayoutHint[] =
    "Migration files are named NNNN_name.up.sql and NNNN_name.down.sql "
    "(4-digit version, lower-case name of letters, digits and underscores).";

MigrateError UsageError(const std::string& message) {
  return MigrateError(ExitCode::kUsage, message);
}

std::string ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read migration file " + path.string());
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

std::string FormatVersion(int version) {
  std::string digits = std::to_string(version);
  return std::string(digits.size() < 4 ? 4 - digits.size() : 0, '0') + digits;
}

std::string MigrationFile::Label() const { return FormatVersion(version) + "_" + name; }

std::vector<MigrationFile> LoadMigrationFiles(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw UsageError("migrations folder " + dir +
                     " does not exist or is not a directory. Run migrate from the directory "
                     "that holds migrations/ or pass --migrations-dir (env MIGRATIONS_DIR).");
  }
  static const std::regex kFileName(R"(^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$)");

  std::map<int, MigrationFile> by_version;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string file_name = entry.path().filename().string();
    if (entry.path().extension() != ".sql") continue;
    std::smatch match;
    if (!std::regex_match(file_name, match, kFileName)) {
      throw UsageError("unexpected file " + entry.path().string() + ". " + kLayoutHint);
    }
    const int version = std::stoi(match[1].str());
    const std::string name = match[2].str();
    const bool is_up = match[3].str() == "up";
    if (version == 0) {
      throw UsageError("bad version 0000 in " + entry.path().string() +
                       ": versions start at 0001.");
    }
    MigrationFile& migration = by_version[version];
    if (migration.version == 0) {
      migration.version = version;
      migration.name = name;
    } else if (migration.name != name) {
      throw UsageError("duplicate version " + match[1].str() + " in " + dir + ": " +
                       migration.Label() + " and " + match[1].str() + "_" + name +
                       ". Give each migration its own version.");
    }
    (is_up ? migration.up_path : migration.down_path) = entry.path().string();
  }
  if (ec) throw UsageError("cannot list migrations folder " + dir + ": " + ec.message());

  std::vector<MigrationFile> files;
  for (auto& [version, migration] : by_version) {
    const int expected = static_cast<int>(files.size()) + 1;
    if (version != expected) {
      throw UsageError("gap in " + dir + ": version " + FormatVersion(expected) +
                       " is missing before " + migration.Label() +
                       ". Versions must be consecutive from 0001.");
    }
    if (migration.up_path.empty() || migration.down_path.empty()) {
      throw UsageError("migration " + migration.Label() + " in " + dir + " has no " +
                       (migration.up_path.empty() ? ".up.sql" : ".down.sql") +
                       " file. Every version needs both an up and a down file.");
    }
    migration.up_sql = ReadWholeFile(migration.up_path);
    migration.down_sql = ReadWholeFile(migration.down_path);
    migration.checksum = Sha256Hex(migration.up_sql);
    files.push_back(std::move(migration));
  }
  return files;
}

}  // namespace migrate
}  // namespace microblog
