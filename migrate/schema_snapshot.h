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
//
// Besides its definition, each object carries details (not compared): the
// facts `migrate new --autogenerate` needs to write DDL for it
// (autogenerate.h), e.g. a column's table, type and default, or the CREATE
// statement PostgreSQL prints for an index. They are listed per kind in
// schema_snapshot.cc.
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

// One object of a snapshot: its definition (what is compared) and its
// details (kind-specific, e.g. {"table": "public.posts", "type": "text"}).
struct SchemaObject {
  std::string definition;
  std::map<std::string, std::string> details;

  // The detail `key`, "" when absent.
  const std::string& Detail(const std::string& key) const;
};

class SchemaSnapshot {
 public:
  // Reads the schema of the database `conn` is connected to (in a read-only
  // transaction). Throws pqxx exceptions.
  static SchemaSnapshot Take(pqxx::connection_base& conn);

  void Add(const std::string& kind, const std::string& name, const std::string& definition,
           std::map<std::string, std::string> details = {});
  const std::map<SchemaObjectKey, SchemaObject>& entries() const { return entries_; }
  // The object (kind, name), or nullptr.
  const SchemaObject* Find(const std::string& kind, const std::string& name) const;

  // Every entry, one "kind name: definition" line each (for debugging and
  // tests).
  std::string ToString() const;

 private:
  std::map<SchemaObjectKey, SchemaObject> entries_;
};

// One object whose definition differs between two snapshots; nullopt on a
// side means the object does not exist there.
struct SchemaDifference {
  std::string kind;
  std::string name;
  std::optional<std::string> before;
  std::optional<std::string> after;
  // The objects themselves (nullptr where absent), pointing into the two
  // snapshots compared: valid while they are.
  const SchemaObject* before_object = nullptr;
  const SchemaObject* after_object = nullptr;
};

// Every difference between `before` and `after`, in reporting order (by kind,
// then name). The result points into both snapshots.
std::vector<SchemaDifference> CompareSnapshots(const SchemaSnapshot& before,
                                               const SchemaSnapshot& after);

// The first of `differences` (not empty) with both its definitions, labelled
// `before_label` and `after_label`, and the names of the others: the text
// `migrate check` prints.
// `only_after` and `only_before` say what it means for an object to exist on
// one side only ("is left behind: it exists after up and down, not at
// version 1" by default).
std::string DescribeDifferences(const std::vector<SchemaDifference>& differences,
                                const std::string& before_label, const std::string& after_label,
                                const std::string& only_after = "",
                                const std::string& only_before = "");

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_SCHEMA_SNAPSHOT_H_
