#include "migrate/declared_schema.h"

#include <fstream>
#include <optional>
#include <sstream>

#include <pqxx/pqxx>

#include "migrate/connection.h"
#include "migrate/database_migrator.h"
#include "migrate/errors.h"
#include "migrate/scratch_database.h"
#include "migrate/sql_script.h"

namespace microblog {
namespace migrate {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw MigrateError(ExitCode::kUsage,
                       "cannot read the declared schema " + path +
                           ": every database has one (migrations/README.md, \"Changing the "
                           "schema\").");
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

std::string DeclaredSchemaPath(const std::string& migrations_dir, const std::string& database) {
  return migrations_dir + "/schema/" + database + ".sql";
}

SchemaSnapshot SnapshotOfDeclaredSchema(const TargetDatabase& target, const DatabaseUrl& server,
                                        const std::string& path) {
  const std::string script = ReadFile(path);
  ScratchDatabase scratch(target, server, ScratchName("declared", target.spec->name));
  SchemaSnapshot snapshot;
  {
    Connection conn(scratch.url());
    {
      pqxx::work tx(conn);
      tx.exec(HistoryTableDdl());
      tx.commit();
    }
    if (std::optional<ScriptError> error = RunScript(conn.raw(), script)) {
      throw MigrateError(ExitCode::kMigrationFailed,
                         "the declared schema does not apply to an empty database:\n" +
                             error->Describe(path, script));
    }
    snapshot = SchemaSnapshot::Take(conn);
  }
  scratch.Drop();
  return snapshot;
}

SchemaSnapshot SnapshotOfMigrations(const TargetDatabase& target, const DatabaseUrl& server,
                                    const std::vector<MigrationFile>& files) {
  ScratchDatabase scratch(target, server, ScratchName("migrations", target.spec->name));
  SchemaSnapshot snapshot;
  {
    std::ostringstream log;
    DatabaseMigrator migrator(target.spec->name, scratch.url(), files, log);
    migrator.Connect();
    migrator.LoadHistory();
    migrator.MigrateTo(static_cast<int>(files.size()), /*dry_run=*/false);
    Connection conn(scratch.url());
    snapshot = SchemaSnapshot::Take(conn);
  }
  scratch.Drop();
  return snapshot;
}

std::string DescribeDrift(const SchemaSnapshot& migrations, const SchemaSnapshot& declared) {
  const std::vector<SchemaDifference> differences = CompareSnapshots(migrations, declared);
  if (differences.empty()) return "";
  return DescribeDifferences(differences, "migrations", "declared",
                             "is only in the declared schema: no migration creates it",
                             "is not in the declared schema, but the migrations create it");
}

}  // namespace migrate
}  // namespace microblog
