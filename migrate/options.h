// Command line and environment of `migrate`, parsed into Options.
//
// Parsing checks everything that can be checked without touching a file or a
// database: known command, known flags for that command, numbers, a URL for
// every targeted database. Errors are MigrateError(kUsage) naming the flag
// or variable and pointing at --help.
#ifndef MICROBLOG_MIGRATE_OPTIONS_H_
#define MICROBLOG_MIGRATE_OPTIONS_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace microblog {
namespace migrate {

// A database `migrate` knows about: its name (also the folder under the
// migrations dir), and where its URL comes from.
struct DatabaseSpec {
  const char* name;     // "user"
  const char* env_var;  // "USER_DATABASE_URL"
  const char* flag;     // "--user-database-url"
};

// All databases, in the order they are migrated (and locked).
const std::vector<DatabaseSpec>& KnownDatabases();

enum class Command { kHelp, kUp, kDown, kStatus, kHistory, kWait, kCheck, kNew, kStamp };

struct TargetDatabase {
  const DatabaseSpec* spec = nullptr;
  std::string url_source;  // "USER_DATABASE_URL" or "--user-database-url"
  std::string url;
};

struct Options {
  Command command = Command::kHelp;
  std::vector<TargetDatabase> targets;  // in KnownDatabases() order
  std::string migrations_dir = "migrations";
  // up --to / down --to
  std::optional<int> to_version;
  // down --steps (bare `down` means one step)
  std::optional<int> steps;
  bool dry_run = false;
  // wait --version; nullopt means "latest"
  std::optional<int> wait_version;
  int wait_timeout_seconds = 300;
  // new NAME [--autogenerate]
  std::string new_name;
  bool autogenerate = false;
  // stamp VERSION
  int stamp_version = 0;
  // status --json, history --json
  bool json = false;
  // up/down: lock_timeout of every migration (0: none) and how many times a
  // migration that timed out waiting for a lock is retried.
  int lock_timeout_ms = 2000;
  int lock_retries = 5;
};

// Reads an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Parses argv[1..] (`args`). Empty environment values count as unset.
// Throws MigrateError(kUsage).
Options ParseOptions(const std::vector<std::string>& args, const EnvLookup& env);

// The --help text: commands, flags, environment variables, exit codes.
std::string HelpText();

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_OPTIONS_H_
