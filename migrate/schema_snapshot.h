// A database's schema read from the catalogs into a comparable, printable
// structure, for `migrate check` (see check_command.h).
//
// A snapshot is a sorted set of entries (kind, name) -> definition, where the
// definition is what PostgreSQL itself prints for the object wherever it can
// (pg_get_indexdef, pg_get_constraintdef, pg_get_functiondef,
// pg_get_triggerdef, pg_get_viewdef, format_type, pg_get_expr), so that two
// snapshots are equal exactly when the schemas are, and a difference can be
// shown as the two definitions. What it covers, in the order differences are
// reported:
//   schema, extension, type (enums, domains), table (kind, owner, row level
//   security), column (type, nullability, default or generation expression,
//   identity, collation), constraint, index, sequence (parameters, owning
//   column), view, function, trigger, policy, rule, grant (non-default ACLs of
//   schemas, tables, views, sequences, columns, functions, and default
//   privileges), comment.
// Not covered: column order (a down file can only re-add a dropped column at
// the end), object and column statistics, storage parameters of columns,
// objects that belong to an extension (the extension and its version are),
// database-level settings and anything cluster-wide (roles, tablespaces).
//
// The history table `schema_migrations` belongs to migrate and is not part of
// any version: its structure is left out, its grants (which migrations give
// to the services' roles) are compared like any other.
#ifndef MICROBLOG_MIGRATE_SCHEMA_SNAPSHOT_H_
#define MICROBLOG_MIGRATE_SCHEMA_SNAPSHOT_H_

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace microblog {
namespace migrate {

struct SchemaObjectKey {
  int kind_order = 0;  // position of `kind` in the list above, for reporting order
  std::string kind;    // "index"
  std::string name;    // "public.users_email_lower_key"

  bool operator<(const SchemaObjectKey& other) const {
    return std::tie(kind_order, kind, name) < std::tie(other.kind_order, other.kind, other.name);
  }
  bool operator==(const SchemaObjectKey& other) const {
    return kind == other.kind && name == other.name;
  }
};

class SchemaSnapshot {
 public:
  // Reads the schema of the database `conn` is connected to (in a read-only
  // transaction). Throws pqxx exceptions.
  static SchemaSnapshot Take(pqxx::connection_base& conn);

  void Add(const std::string& kind, const std::string& name, const std::string& definition);
  const std::map<SchemaObjectKey, std::string>& entries() const { return entries_; }

  // Every entry, one "kind name: definition" line each (for debugging and
  // tests).
  std::string ToString() const;

 private:
  std::map<SchemaObjectKey, std::string> entries_;
};

// One object whose definition differs between two snapshots; nullopt on a
// side means the object does not exist there.
struct SchemaDifference {
  std::string kind;
  std::string name;
  std::optional<std::string> before;
  std::optional<std::string> after;
};

// Every difference between `before` and `after`, in reporting order (by kind,
// then name).
std::vector<SchemaDifference> CompareSnapshots(const SchemaSnapshot& before,
                                               const SchemaSnapshot& after);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_SCHEMA_SNAPSHOT_H_
