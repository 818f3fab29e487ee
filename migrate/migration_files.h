// The migration files of one database, loaded and checked before any database
// is touched.
//
// Layout: <migrations dir>/<database>/NNNN_name.up.sql and NNNN_name.down.sql,
// NNNN a 4-digit version. Versions are linear: 0001, 0002, ... without gaps,
// one name per version, each with both an up and a down file. Anything else
// that ends in .sql is an error (a typo would otherwise be silently skipped);
// other files (README.md, ...) are ignored.
#ifndef MICROBLOG_MIGRATE_MIGRATION_FILES_H_
#define MICROBLOG_MIGRATE_MIGRATION_FILES_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace microblog {
namespace migrate {

struct MigrationFile {
  int version = 0;
  std::string name;     // "create_users" in 0001_create_users.up.sql
  std::string up_path;  // as found under the migrations dir, for messages
  std::string down_path;
  std::string up_sql;
  std::string down_sql;
  std::string checksum;  // Sha256Hex(up_sql)

  // "0001_create_users"
  std::string Label() const;
};

// Formats a version as the 4-digit prefix used in file names.
std::string FormatVersion(int version);

// What a migration file's name says about it.
struct MigrationFileName {
  int version = 0;   // 0 for "0000_...": well-formed, but not a valid version
  std::string name;  // "create_users"
  bool is_up = false;
};

// Parses "NNNN_name.up.sql" / "NNNN_name.down.sql" (NNNN 4 ASCII digits, name
// 1+ of [a-z0-9_]); nullopt for any other file name.
std::optional<MigrationFileName> ParseMigrationFileName(std::string_view file_name);

// Loads `dir` (e.g. "migrations/user"), sorted by version; element i holds
// version i + 1. Throws MigrateError(kUsage) on a missing folder, an unreadable
// file, a bad name, a duplicate version, a gap or a missing up/down file.
std::vector<MigrationFile> LoadMigrationFiles(const std::string& dir);

// A file `migrate new` writes: its path and its text.
struct NewFile {
  std::string path;
  std::string text;
};

// Writes every file of `files`, or none: throws MigrateError(kUsage) when
// one of them already exists (nothing is overwritten) or cannot be written.
void WriteNewFiles(const std::vector<NewFile>& files);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_MIGRATION_FILES_H_
