#include "migrate/check_command.h"

#include <filesystem>
#include <sstream>
#include <vector>

#include <pqxx/pqxx>

#include "migrate/autogenerate.h"
#include "migrate/connection.h"
#include "migrate/database_migrator.h"
#include "migrate/database_url.h"
#include "migrate/declared_schema.h"
#include "migrate/errors.h"
#include "migrate/interrupt_guard.h"
#include "migrate/migration_files.h"
#include "migrate/schema_snapshot.h"
#include "migrate/scratch_database.h"

namespace microblog {
namespace migrate {
namespace {

// Fails on the first `-- TODO(migrate):` line of any migration file.
void RefuseTodos(const std::string& db_name, const std::vector<MigrationFile>& files) {
  for (const MigrationFile& file : files) {
    for (const auto& [path, sql] :
         {std::pair{&file.up_path, &file.up_sql}, std::pair{&file.down_path, &file.down_sql}}) {
      std::istringstream lines(*sql);
      std::string line;
      for (int number = 1; std::getline(lines, line); ++number) {
        if (line.rfind(kTodoMarker, 0) != 0) continue;
        throw MigrateError(ExitCode::kCheckFailed,
                           "check failed on database " + db_name + ": " + *path + ":" +
                               std::to_string(number) +
                               " holds an unresolved TODO of migrate new --autogenerate:\n  " +
                               line + "\nResolve it (the line says how), then delete the line.");
      }
    }
  }
}

void CheckTarget(const Options& options, const TargetDatabase& target, std::ostream& out,
                 const InterruptGuard& guard) {
  const std::string db_name = target.spec->name;
  const std::vector<MigrationFile> files =
      LoadMigrationFiles(options.migrations_dir + "/" + db_name);
  const int latest = static_cast<int>(files.size());
  DatabaseUrl server(target.url_source, target.url);
  RefuseTodos(db_name, files);

  auto check_interrupted = [&guard] {
    if (guard.received() != 0) throw std::runtime_error("interrupted");
  };
  ScratchDatabase scratch(target, server, ScratchName("check", db_name));
  check_interrupted();
  out << db_name << ": checking " << latest << " migrations in scratch database " << scratch.name()
      << " (" << server.Endpoint() << ")" << std::endl;

  std::ostringstream migrator_log;  // its per-file lines; ours are shorter
  std::vector<SchemaSnapshot> at(latest + 1);
  {
    DatabaseMigrator migrator(db_name, scratch.url(), files, migrator_log);
    migrator.Connect();
    Connection snapshot_conn(scratch.url());
    auto migrate_to = [&](int version) {
      check_interrupted();
      migrator.LoadHistory();
      migrator.MigrateTo(version, /*dry_run=*/false);
      check_interrupted();
    };
    auto version_label = [](int version) {
      return version == 0 ? std::string("version 0 (empty database)")
                          : "version " + std::to_string(version);
    };

    at[0] = SchemaSnapshot::Take(snapshot_conn);
    for (int v = 0; v < latest; ++v) {
      const MigrationFile& file = files[v];
      migrate_to(v + 1);
      migrate_to(v);
      std::vector<SchemaDifference> differences =
          CompareSnapshots(at[v], SchemaSnapshot::Take(snapshot_conn));
      if (!differences.empty()) {
        throw MigrateError(
            ExitCode::kCheckFailed,
            "check failed on database " + db_name + ": the down file of " + file.Label() + " (" +
                file.down_path + ") does not restore the schema of " + version_label(v) + " (at " +
                version_label(v) + ", applied " + file.Label() +
                " up, then down, and compared).\n" +
                DescribeDifferences(differences, version_label(v), "after up and down") +
                "Fix the down file so that it undoes exactly what the up file does.");
      }
      migrate_to(v + 1);
      at[v + 1] = SchemaSnapshot::Take(snapshot_conn);
      out << db_name << ": " << file.Label() << ": up, down, up: the down file restores "
          << version_label(v) << std::endl;
    }
    for (int v = latest; v > 0; --v) {
      const MigrationFile& file = files[v - 1];
      migrate_to(v - 1);
      std::vector<SchemaDifference> differences =
          CompareSnapshots(at[v - 1], SchemaSnapshot::Take(snapshot_conn));
      if (!differences.empty()) {
        throw MigrateError(
            ExitCode::kCheckFailed,
            "check failed on database " + db_name + ": rolling back from version " +
                std::to_string(latest) + " to 0, the down file of " + file.Label() + " (" +
                file.down_path + ") does not restore the schema of " + version_label(v - 1) +
                ".\n" +
                DescribeDifferences(differences, version_label(v - 1), "after rolling back to it") +
                "Fix the down file so that it undoes exactly what the up file does.");
      }
    }
    out << db_name << ": down from version " << latest
        << " to 0, one file at a time: each version restored, version 0 equals the empty "
           "database"
        << std::endl;
  }
  scratch.Drop();
  out << db_name << ": dropped scratch database " << scratch.name() << std::endl;

  const std::string declared_path = DeclaredSchemaPath(options.migrations_dir, db_name);
  std::error_code ec;
  if (!std::filesystem::exists(declared_path, ec)) {
    out << db_name << ": no declared schema " << declared_path << " to compare with" << std::endl;
  } else {
    check_interrupted();
    const std::string drift =
        DescribeDrift(at[latest], SnapshotOfDeclaredSchema(target, server, declared_path));
    if (!drift.empty()) {
      throw MigrateError(
          ExitCode::kCheckFailed,
          "check failed on database " + db_name +
              ": the migrations do not produce the declared "
              "schema " +
              declared_path + " (version " + std::to_string(latest) + " compared with it).\n" +
              drift +
              "Edit the declared schema, or autogenerate the missing migration: migrate new NAME "
              "--target " +
              db_name + " --autogenerate.");
    }
    out << db_name << ": version " << latest << " equals the declared schema " << declared_path
        << std::endl;
  }
  out << db_name << ": check passed" << std::endl;
}

}  // namespace

void RunCheck(const Options& options, std::ostream& out) {
  InterruptGuard guard;  // SIGINT / SIGTERM drop the scratch databases
  for (const TargetDatabase& target : options.targets) {
    try {
      CheckTarget(options, target, out, guard);
    } catch (...) {
      guard.RethrowIfInterrupted("checking database " + std::string(target.spec->name));
      throw;
    }
  }
}

}  // namespace migrate
}  // namespace microblog
