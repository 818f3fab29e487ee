#include "migrate/autogenerate_command.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "migrate/autogenerate.h"
#include "migrate/database_url.h"
#include "migrate/declared_schema.h"
#include "migrate/errors.h"
#include "migrate/interrupt_guard.h"
#include "migrate/migration_files.h"
#include "migrate/sql_script.h"

namespace microblog {
namespace migrate {
namespace {

// `text` as comment lines of at most ~78 columns, the first starting with
// `first_prefix`, the others with `prefix`.
std::string WrapComment(const std::string& text, const std::string& first_prefix,
                        const std::string& prefix) {
  std::istringstream words(text);
  std::string word;
  std::string result;
  std::string line = first_prefix;
  bool line_empty = true;
  while (words >> word) {
    if (!line_empty && line.size() + 1 + word.size() > 78) {
      result += line + "\n";
      line = prefix;
      line_empty = true;
    }
    line += (line_empty && line.back() == ' ' ? "" : " ") + word;
    line_empty = false;
  }
  return result + line + "\n";
}

std::string Header(const std::string& label, const std::string& database,
                   const std::string& declared_path, bool up, bool no_transaction) {
  std::string header = no_transaction ? std::string(kNoTransactionMarker) + "\n" : "";
  header += "-- " + label + (up ? " (up)" : " (down)") + ", database " + database +
            ". Written by `migrate new --autogenerate`\n-- from " + declared_path +
            ": review it, it is yours now.\n";
  if (no_transaction) {
    header += up ? "-- Runs statement by statement, outside a transaction (CONCURRENTLY); each\n"
                   "-- statement is safe to run again after a failure.\n"
                 : "-- Outside a transaction, like its up file; safe to run again.\n";
  }
  if (!up) header += "-- Undoes exactly what the up file does, in reverse order.\n";
  return header;
}

std::string Body(const std::vector<std::string>& statements) {
  std::string body;
  for (const std::string& statement : statements) body += "\n" + statement + ";\n";
  return body;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    throw MigrateError(ExitCode::kUsage,
                       "cannot write " + path + ": check the folder's permissions.");
  }
}

}  // namespace

void RunAutogenerate(const Options& options, std::ostream& out) {
  namespace fs = std::filesystem;
  const TargetDatabase& target = options.targets.front();
  const std::string database = target.spec->name;
  const std::string dir = options.migrations_dir + "/" + database;
  const std::vector<MigrationFile> files = LoadMigrationFiles(dir);
  const std::string declared_path = DeclaredSchemaPath(options.migrations_dir, database);
  const DatabaseUrl server(target.url_source, target.url);

  SchemaSnapshot current;
  SchemaSnapshot declared;
  {
    InterruptGuard guard;  // SIGINT / SIGTERM drop the scratch databases
    try {
      current = SnapshotOfMigrations(target, server, files);
      declared = SnapshotOfDeclaredSchema(target, server, declared_path);
    } catch (...) {
      guard.RethrowIfInterrupted("building the schemas of database " + database);
      throw;
    }
    guard.RethrowIfInterrupted("building the schemas of database " + database);
  }
  const MigrationPlan plan = PlanMigration(current, declared);
  if (plan.empty()) {
    out << database << ": No changes in schema detected (" << files.size() << " migrations give "
        << declared_path << "); no file written." << std::endl;
    return;
  }
  for (const std::string& line : plan.detected) out << database << ": " << line << "\n";

  struct Pair {
    std::string label, up_path, down_path, up_text, down_text;
  };
  std::vector<Pair> pairs;
  int version = static_cast<int>(files.size());
  for (const GeneratedMigration& migration : plan.migrations) {
    Pair pair;
    pair.label = FormatVersion(++version) + "_" + options.new_name + migration.name_suffix;
    pair.up_path = dir + "/" + pair.label + ".up.sql";
    pair.down_path = dir + "/" + pair.label + ".down.sql";
    pair.up_text =
        Header(pair.label, database, declared_path, /*up=*/true, migration.no_transaction);
    if (pairs.empty()) {
      for (const std::string& todo : plan.todos) {
        pair.up_text += "--\n" + WrapComment(todo, kTodoMarker, "--  ");
      }
    }
    pair.up_text += Body(migration.up);
    pair.down_text =
        Header(pair.label, database, declared_path, /*up=*/false, migration.no_transaction) +
        Body(migration.down);
    for (const std::string& path : {pair.up_path, pair.down_path}) {
      std::error_code ec;
      if (fs::exists(path, ec)) {
        throw MigrateError(ExitCode::kUsage, path +
                                                 " already exists: refusing to overwrite it. "
                                                 "Remove it or pick another name.");
      }
    }
    pairs.push_back(std::move(pair));
  }
  for (const Pair& pair : pairs) {
    WriteFile(pair.up_path, pair.up_text);
    WriteFile(pair.down_path, pair.down_text);
    out << pair.up_path << "\n" << pair.down_path << "\n";
  }
  for (const std::string& todo : plan.todos) out << database << ": TODO: " << todo << "\n";
  if (!plan.todos.empty()) {
    out << database << ": " << plan.todos.size() << " TODO(migrate) line(s) to resolve in "
        << pairs.front().up_path << "; migrate check fails until they are gone." << std::endl;
  }
  out.flush();
}

}  // namespace migrate
}  // namespace microblog
