#include "migrate/autogenerate_command.h"

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

}  // namespace

void RunAutogenerate(const Options& options, std::ostream& out) {
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

  std::vector<NewFile> written;
  int version = static_cast<int>(files.size());
  for (const GeneratedMigration& migration : plan.migrations) {
    const std::string label =
        FormatVersion(++version) + "_" + options.new_name + migration.name_suffix;
    std::string up = Header(label, database, declared_path, /*up=*/true, migration.no_transaction);
    if (written.empty()) {
      for (const std::string& todo : plan.todos) {
        up += "--\n" + WrapComment(todo, kTodoMarker, "--  ");
      }
    }
    written.push_back({dir + "/" + label + ".up.sql", up + Body(migration.up)});
    written.push_back(
        {dir + "/" + label + ".down.sql",
         Header(label, database, declared_path, /*up=*/false, migration.no_transaction) +
             Body(migration.down)});
  }
  WriteNewFiles(written);
  for (const NewFile& file : written) out << file.path << "\n";
  for (const std::string& todo : plan.todos) out << database << ": TODO: " << todo << "\n";
  if (!plan.todos.empty()) {
    out << database << ": " << plan.todos.size() << " TODO(migrate) line(s) to resolve in "
        << written.front().path << "; migrate check fails until they are gone." << std::endl;
  }
  out.flush();
}

}  // namespace migrate
}  // namespace microblog
