#include "migrate/migration_files.h"

#include <filesystem>
#include <fstream>
#include <map>
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

std::optional<MigrationFileName> ParseMigrationFileName(std::string_view file_name) {
  constexpr std::size_t kVersionDigits = 4;
  MigrationFileName parsed;
  if (file_name.size() <= kVersionDigits || file_name[kVersionDigits] != '_') return std::nullopt;
  for (std::size_t i = 0; i < kVersionDigits; ++i) {
    if (file_name[i] < '0' || file_name[i] > '9') return std::nullopt;
    parsed.version = parsed.version * 10 + (file_name[i] - '0');
  }
  const std::string_view rest = file_name.substr(kVersionDigits + 1);
  const std::size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos) return std::nullopt;
  for (char c : rest.substr(0, dot)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return std::nullopt;
  }
  const std::string_view suffix = rest.substr(dot);
  if (suffix != ".up.sql" && suffix != ".down.sql") return std::nullopt;
  parsed.name = std::string(rest.substr(0, dot));
  parsed.is_up = suffix == ".up.sql";
  return parsed;
}

std::vector<MigrationFile> LoadMigrationFiles(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw UsageError("migrations folder " + dir +
                     " does not exist or is not a directory. Run migrate from the directory "
                     "that holds migrations/ or pass --migrations-dir (env MIGRATIONS_DIR).");
  }
  std::map<int, MigrationFile> by_version;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string file_name = entry.path().filename().string();
    if (entry.path().extension() != ".sql") continue;
    const std::optional<MigrationFileName> parsed = ParseMigrationFileName(file_name);
    if (!parsed.has_value()) {
      throw UsageError("unexpected file " + entry.path().string() + ". " + kLayoutHint);
    }
    const int version = parsed->version;
    const std::string& name = parsed->name;
    const bool is_up = parsed->is_up;
    if (version == 0) {
      throw UsageError("bad version 0000 in " + entry.path().string() +
                       ": versions start at 0001.");
    }
    MigrationFile& migration = by_version[version];
    if (migration.version == 0) {
      migration.version = version;
      migration.name = name;
    } else if (migration.name != name) {
      throw UsageError("duplicate version " + FormatVersion(version) + " in " + dir + ": " +
                       migration.Label() + " and " + FormatVersion(version) + "_" + name +
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

void WriteNewFiles(const std::vector<NewFile>& files) {
  for (const NewFile& file : files) {
    std::error_code ec;
    if (fs::exists(file.path, ec)) {
      throw MigrateError(ExitCode::kUsage, file.path +
                                               " already exists: refusing to overwrite it. Remove "
                                               "it or pick another name.");
    }
  }
  for (const NewFile& file : files) {
    std::ofstream out(file.path, std::ios::binary | std::ios::trunc);
    out << file.text;
    out.close();
    if (!out) {
      throw MigrateError(ExitCode::kUsage,
                         "cannot write " + file.path + ": check the folder's permissions.");
    }
  }
}

}  // namespace migrate
}  // namespace microblog
