#include "migrate/autogenerate.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

namespace microblog {
namespace migrate {
namespace {

// The two migrations a plan may have.
enum class Phase { kTransactional = 0, kConcurrent = 1 };

// Where a step goes within its phase (lower first): drops before creates,
// objects before what depends on them. A step's down runs in the reverse
// order, so a re-creation in a down file comes after what it needs.
enum Rank : int {
  kRevokeOrUncomment = 10,
  kDropDependent = 20,  // triggers, policies, views
  kDropForeignKey = 30,
  kDropConstraint = 31,
  kDropIndex = 35,
  kDropColumn = 40,
  kDropTable = 45,
  kDropFunction = 50,
  kDropSequence = 51,
  kDropType = 52,
  kDropExtension = 53,
  kDropSchema = 54,
  kCreateSchema = 60,
  kCreateExtension = 61,
  kCreateType = 62,
  kCreateSequence = 63,
  kCreateFunction = 64,
  kCreateTable = 70,
  kAlterColumn = 75,
  kAddConstraint = 80,
  kAddForeignKey = 81,
  kCreateIndex = 85,
  kAddConstraintUsingIndex = 86,
  kCreateDependent = 90,     // views, triggers, policies
  kRevokeFromExisting = 94,  // before the grants: a table's REVOKE also takes its columns'
  kGrantOrComment = 95,
};

struct Step {
  Phase phase;
  int rank;
  std::string up;    // "" when the up file needs nothing
  std::string down;  // "" when the down file needs nothing
};

std::string SingleQuoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    quoted += c;
    if (c == '\'') quoted += '\'';
  }
  return quoted + "'";
}

// A statement the down file runs where squawk's `rule` would refuse it, with
// the reason (migrations/README.md, "When the lint refuses something").
std::string Ignoring(const std::string& rule, const std::string& reason,
                     const std::string& statement) {
  return "-- " + reason + "\n-- squawk-ignore " + rule + "\n" + statement;
}

// A statement run only where the role exists, as the project's grants are
// (the roles are provisioned with the database, and absent on a developer's).
std::string ForRole(const std::string& role, const std::string& statement) {
  if (role == "PUBLIC") return statement;
  return "DO $$\nBEGIN\n  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = " + SingleQuoted(role) +
         ") THEN\n    " + statement + ";\n  END IF;\nEND\n$$";
}

// `statement` in a DO block that runs it only while constraint `name` of
// `table` (SQL text) does (`exists`) or does not exist: idempotent forms of
// statements PostgreSQL has no IF [NOT] EXISTS for, for no-transaction files.
std::string IfConstraint(bool exists, const std::string& table, const std::string& name,
                         const std::string& statement) {
  return std::string("DO $$\nBEGIN\n  IF ") + (exists ? "" : "NOT ") +
         "EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = " + SingleQuoted(table) +
         "::regclass AND conname = " + SingleQuoted(name) + ") THEN\n    " + statement +
         ";\n  END IF;\nEND\n$$";
}

// `statement` in a DO block that runs it only while column `column` (its
// name, unquoted) of `table` (SQL text) is NOT NULL (`not_null`) or not.
std::string IfColumnNotNull(bool not_null, const std::string& table, const std::string& column,
                            const std::string& statement) {
  return std::string("DO $$\nBEGIN\n  IF ") + (not_null ? "" : "NOT ") +
         "(SELECT attnotnull FROM pg_attribute WHERE attrelid = " + SingleQuoted(table) +
         "::regclass AND attname = " + SingleQuoted(column) + ") THEN\n    " + statement +
         ";\n  END IF;\nEND\n$$";
}

// One PostgreSQL identifier as SQL writes it.
std::string QuoteIdent(const std::string& name) {
  bool plain =
      !name.empty() && (std::islower(static_cast<unsigned char>(name[0])) != 0 || name[0] == '_');
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) != 0 ||
          std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '_')) {
      plain = false;
    }
  }
  if (plain) return name;
  std::string quoted = "\"";
  for (char c : name) {
    quoted += c;
    if (c == '"') quoted += '"';
  }
  return quoted + "\"";
}

// The privileges of an ACL ("alice=arw/owner =X/owner"), per grantee
// ("PUBLIC" for the empty one), as privilege letters.
using Privileges = std::map<std::string, std::set<char>>;

struct ParsedAcl {
  Privileges privileges;
  bool grant_options = false;  // some privilege WITH GRANT OPTION
};

ParsedAcl ParseAcl(const std::string& acl) {
  ParsedAcl parsed;
  std::istringstream items(acl);
  std::string item;
  while (items >> item) {
    const size_t eq = item.rfind('=', item.find('/'));
    if (eq == std::string::npos) continue;
    std::string grantee = item.substr(0, eq);
    if (grantee.size() >= 2 && grantee.front() == '"') {
      grantee = grantee.substr(1, grantee.size() - 2);  // no doubled quotes in role names here
    }
    if (grantee.empty()) grantee = "PUBLIC";
    const std::string privileges = item.substr(eq + 1, item.find('/', eq) - eq - 1);
    std::set<char>& set = parsed.privileges[grantee];
    for (char c : privileges) {
      if (c == '*') {
        parsed.grant_options = true;
      } else {
        set.insert(c);
      }
    }
  }
  return parsed;
}

std::string PrivilegeNames(const std::set<char>& letters, const std::string& column) {
  static const std::map<char, const char*> kNames = {
      {'r', "SELECT"},   {'a', "INSERT"},     {'w', "UPDATE"},  {'d', "DELETE"},
      {'D', "TRUNCATE"}, {'x', "REFERENCES"}, {'t', "TRIGGER"}, {'X', "EXECUTE"},
      {'U', "USAGE"},    {'C', "CREATE"},     {'c', "CONNECT"}, {'T', "TEMPORARY"},
  };
  std::string names;
  for (const char* order = "rawdDxtXUCcT"; *order != '\0'; ++order) {
    if (letters.count(*order) == 0) continue;
    if (!names.empty()) names += ", ";
    names += kNames.at(*order);
    if (!column.empty()) names += " (" + column + ")";
  }
  return names;
}

// The name of a NOT NULL check for `table`.`column` (PostgreSQL's 63 bytes).
std::string NotNullCheckName(const std::string& table_name, const std::string& column) {
  const std::string bare_table = table_name.substr(table_name.rfind('.') + 1);
  return (bare_table + "_" + column).substr(0, 63 - 9) + "_not_null";
}

// "CREATE [UNIQUE] INDEX name ON ..." as CONCURRENTLY IF NOT EXISTS.
std::string Concurrently(const std::string& create_index) {
  static const std::regex kPrefix("^CREATE (UNIQUE )?INDEX ");
  return std::regex_replace(create_index, kPrefix, "CREATE $1INDEX CONCURRENTLY IF NOT EXISTS ",
                            std::regex_constants::format_first_only);
}

class Planner {
 public:
  Planner(const SchemaSnapshot& current, const SchemaSnapshot& declared)
      : current_(current), declared_(declared) {}

  MigrationPlan Run() {
    differences_ = CompareSnapshots(current_, declared_);
    for (const SchemaDifference& d : differences_) {
      if (d.kind == "table") {
        if (d.before_object == nullptr) added_tables_.insert(d.name);
        if (d.after_object == nullptr) dropped_tables_.insert(d.name);
      }
    }
    for (const SchemaDifference& d : differences_) {
      // A view's columns are the view's.
      if (d.kind != "column" || Either(d).Detail("relkind") != "v") {
        plan_.detected.push_back(Detected(d));
      }
      Plan(d);
    }
    FindRenames();
    Assemble();
    return std::move(plan_);
  }

 private:
  static std::string Detected(const SchemaDifference& d) {
    const char* what = d.before_object == nullptr  ? "added"
                       : d.after_object == nullptr ? "removed"
                                                   : "changed";
    return std::string("Detected ") + what + " " + d.kind + " '" + d.name + "'";
  }

  void Todo(const std::string& text) { plan_.todos.push_back(text); }
  void Add(Phase phase, int rank, std::string up, std::string down) {
    steps_.push_back({phase, rank, std::move(up), std::move(down)});
  }

  // The object of `d` on the side that has it (the declared one if both).
  static const SchemaObject& Either(const SchemaDifference& d) {
    return d.after_object != nullptr ? *d.after_object : *d.before_object;
  }

  void Plan(const SchemaDifference& d) {
    const bool added = d.before_object == nullptr;
    const bool removed = d.after_object == nullptr;
    if (d.kind == "table") return PlanTable(d, added, removed);
    if (d.kind == "column") return PlanColumn(d, added, removed);
    if (d.kind == "constraint") return PlanConstraint(d, added, removed);
    if (d.kind == "index") return PlanIndex(d, added, removed);
    if (d.kind == "grant") return PlanGrant(d);
    if (d.kind == "comment") return PlanComment(d, removed);
    if (d.kind == "trigger" || d.kind == "policy") return PlanTableDependent(d, added, removed);
    if (d.kind == "view" || d.kind == "function") return PlanReplaceable(d, added, removed);
    if (d.kind == "sequence") return PlanSequence(d, added, removed);
    if (d.kind == "schema") return PlanStandalone(d, added, removed, kCreateSchema, kDropSchema);
    if (d.kind == "type") return PlanStandalone(d, added, removed, kCreateType, kDropType);
    if (d.kind == "extension") {
      if (!added && !removed) {
        Todo("extension " + d.name + " changed (" + *d.before + " -> " + *d.after +
             "): write ALTER EXTENSION ... UPDATE TO, and its down, by hand.");
        return;
      }
      return PlanStandalone(d, added, removed, kCreateExtension, kDropExtension);
    }
    Todo(d.kind + " " + d.name + " " +
         (added     ? "added"
          : removed ? "removed"
                    : "changed") +
         ": migrate cannot write this kind of change; write it, and its down, by hand.");
  }

  // Objects that are created and dropped whole (schemas, types, sequences,
  // extensions).
  void PlanStandalone(const SchemaDifference& d, bool added, bool removed, int create_rank,
                      int drop_rank) {
    if (!added && !removed) {
      Todo(d.kind + " " + d.name + " changed (" + *d.before + " -> " + *d.after +
           "): migrate does not write ALTER for it; write the change, and its down, by hand.");
      return;
    }
    const SchemaObject& object = Either(d);
    if (object.Detail("create").empty()) {
      Todo(d.kind + " " + d.name + " " + (added ? "added" : "removed") +
           ": migrate cannot write its CREATE; write it, and its down, by hand.");
      return;
    }
    if (added) {
      Add(Phase::kTransactional, create_rank, object.Detail("create"), object.Detail("drop"));
    } else {
      Add(Phase::kTransactional, drop_rank, object.Detail("drop"), object.Detail("create"));
    }
  }

  // Standalone sequences are created and dropped; an identity's comes and
  // goes with its column; a changed one is altered in place.
  void PlanSequence(const SchemaDifference& d, bool added, bool removed) {
    const std::string& owned = Either(d).Detail("owned");
    if (!added && !removed) {
      auto alter = [](const SchemaObject& sequence) {
        std::string create = sequence.Detail("create");
        const std::string cycle = " CYCLE";
        const bool cycles = create.size() >= cycle.size() &&
                            create.compare(create.size() - cycle.size(), cycle.size(), cycle) == 0;
        return "ALTER" + create.substr(std::string("CREATE").size()) + (cycles ? "" : " NO CYCLE");
      };
      Add(Phase::kTransactional, kAlterColumn, alter(*d.after_object), alter(*d.before_object));
      return;
    }
    if (owned == "i") return;  // its column's ADD/DROP IDENTITY
    if (!owned.empty()) {
      Todo("sequence " + d.name + " " + (added ? "added" : "removed") +
           ": a sequence OWNED BY a column (serial), which migrate does not write; prefer an "
           "identity column, or write it, and its down, by hand.");
      return;
    }
    PlanStandalone(d, added, removed, kCreateSequence, kDropSequence);
  }

  // Views and functions: CREATE OR REPLACE where both exist.
  void PlanReplaceable(const SchemaDifference& d, bool added, bool removed) {
    const int create_rank = d.kind == "view" ? kCreateDependent : kCreateFunction;
    const int drop_rank = d.kind == "view" ? kDropDependent : kDropFunction;
    const SchemaObject& object = Either(d);
    if (object.Detail("create").empty() ||
        (!added && !removed && d.before_object->Detail("create").empty())) {
      Todo(d.kind + " " + d.name +
           ": migrate cannot write its CREATE (an aggregate?); write "
           "the change, and its down, by hand.");
      return;
    }
    if (added) {
      Add(Phase::kTransactional, create_rank, object.Detail("create"), object.Detail("drop"));
    } else if (removed) {
      Add(Phase::kTransactional, drop_rank, object.Detail("drop"), object.Detail("create"));
    } else if (d.kind == "function") {
      Add(Phase::kTransactional, create_rank, d.after_object->Detail("create"),
          d.before_object->Detail("create"));
    } else {
      // DROP and CREATE (OR REPLACE cannot drop or retype a column), with the
      // view's grants and comment given back.
      auto recreate = [&](const SchemaSnapshot& side, const SchemaObject& view) {
        return view.Detail("drop") + ";\n" + view.Detail("create") +
               ViewExtras(side, d.name, view.Detail("sql_name"));
      };
      Add(Phase::kTransactional, create_rank, recreate(declared_, *d.after_object),
          recreate(current_, *d.before_object));
    }
  }

  void PlanTable(const SchemaDifference& d, bool added, bool removed) {
    const SchemaObject& object = Either(d);
    if (!added && !removed) {
      Todo("table " + d.name + " changed (" + *d.before + " -> " + *d.after +
           "): migrate does not write ALTER TABLE for its kind, owner, options or row level "
           "security; write the change, and its down, by hand.");
      return;
    }
    if (object.Detail("plain") != "t") {
      Todo("table " + d.name + " " + (added ? "added" : "removed") +
           ": a partitioned, inheriting, unlogged or row-level-security table, which migrate "
           "does not write; write it, and its down, by hand.");
      return;
    }
    const SchemaSnapshot& side = added ? declared_ : current_;
    const std::string create = CreateTable(d.name, object, side);
    const std::string drop = object.Detail("drop");
    if (added) {
      Add(Phase::kTransactional, kCreateTable, create,
          Ignoring("ban-drop-table", "Created by the up file.", drop));
    } else {
      Todo("table " + d.name +
           " is dropped: the previous release may still use it. If no running release reads or "
           "writes it, this is a contract step: mark the file so and delete this line "
           "(migrations/README.md, \"Marking a contract step\").");
      Add(Phase::kTransactional, kDropTable, drop, create);
    }
  }

  // CREATE TABLE with the columns and constraints `side` has for it.
  static std::string CreateTable(const std::string& table, const SchemaObject& object,
                                 const SchemaSnapshot& side) {
    std::map<std::string, std::string> columns;  // in the table's order
    for (const auto& [key, child] : side.entries()) {
      if (key.kind == "column" && child.Detail("table") == table) {
        columns[child.Detail("position")] = "  " + child.Detail("ddl");
      }
    }
    std::vector<std::string> lines;
    for (const auto& [position, line] : columns) lines.push_back(line);
    // Foreign keys follow every table (PlanConstraint): they may name a
    // table created, or dropped, beside this one.
    for (const auto& [key, child] : side.entries()) {
      if (key.kind == "constraint" && child.Detail("table") == table &&
          child.Detail("type") != "f") {
        lines.push_back("  CONSTRAINT " + child.Detail("sql_name") + " " + child.Detail("def") +
                        (child.Detail("validated") == "f" ? " NOT VALID" : ""));
      }
    }
    std::string create = object.Detail("create") + " (\n";
    for (size_t i = 0; i < lines.size(); ++i) {
      create += lines[i] + (i + 1 < lines.size() ? ",\n" : "\n");
    }
    return create + ")";
  }

  bool ParentAdded(const SchemaObject& object) const {
    return added_tables_.count(object.Detail("table")) != 0;
  }
  bool ParentDropped(const SchemaObject& object) const {
    return dropped_tables_.count(object.Detail("table")) != 0;
  }

  // An index, trigger or policy of a table the plan creates or drops: plain
  // CREATE after the table's in the up file (DROP TABLE takes it in the
  // down file), or CREATE in the down file after the table's re-creation.
  // False when its table stays.
  bool WithItsTable(const SchemaObject& object, int create_rank, int drop_rank) {
    if (ParentAdded(object)) {
      Add(Phase::kTransactional, create_rank, object.Detail("create"), "");
      return true;
    }
    if (ParentDropped(object)) {
      Add(Phase::kTransactional, drop_rank, "", object.Detail("create"));
      return true;
    }
    return false;
  }

  void PlanColumn(const SchemaDifference& d, bool added, bool removed) {
    const SchemaObject& column = Either(d);
    const std::string& relkind = column.Detail("relkind");
    if (relkind == "c") {
      Todo("attribute " + d.name +
           " of a composite type: migrate does not write ALTER TYPE; "
           "write it, and its down, by hand.");
      return;
    }
    if (relkind != "r" && relkind != "p" && relkind != "f") return;  // a view's: the view's
    if (ParentAdded(column) || ParentDropped(column)) return;        // in CREATE/DROP TABLE
    const std::string table = column.Detail("sql_table");
    const std::string name = column.Detail("sql_name");
    const std::string alter = "ALTER TABLE " + table + " ";
    const std::string drop = alter + "DROP COLUMN " + name;
    if (added) {
      std::string ddl = column.Detail("ddl");
      if (column.Detail("not_null") == "t" && column.Detail("default").empty() &&
          column.Detail("identity").empty() && column.Detail("generated").empty()) {
        Todo("column " + d.name +
             " is NOT NULL without a default, on a table that has rows and a running release "
             "that does not write it: it is added nullable here. Release the code that writes "
             "it, backfill it in batches, then declare it NOT NULL again and autogenerate "
             "(a validated CHECK, no scan under lock).");
        ddl = ddl.substr(0, ddl.size() - std::string(" NOT NULL").size());
      }
      Add(Phase::kTransactional, kAlterColumn, alter + "ADD COLUMN " + ddl,
          Ignoring("ban-drop-column", "Added by the up file.", drop));
      return;
    }
    if (removed) {
      Todo("column " + d.name +
           " is dropped: the previous release may still read or write it. If none does, this "
           "is a contract step: mark the file so and delete this line (migrations/README.md, "
           "\"Marking a contract step\").");
      Add(Phase::kTransactional, kDropColumn, drop, alter + "ADD COLUMN " + column.Detail("ddl"));
      return;
    }
    const SchemaObject& before = *d.before_object;
    const SchemaObject& after = *d.after_object;
    const std::string column_alter = alter + "ALTER COLUMN " + name + " ";
    if (before.Detail("type") != after.Detail("type") ||
        before.Detail("collation") != after.Detail("collation")) {
      Todo("column " + d.name + " changes type (" + before.Detail("type") + " -> " +
           after.Detail("type") +
           "): ALTER COLUMN TYPE rewrites the table under an exclusive lock (except widenings "
           "such as varchar(n) to text) and may need a USING clause. Prefer a new column "
           "(migrations/README.md, \"Change a column's type\"); if this is a widening, mark "
           "the file as a contract step and add `-- squawk-ignore changing-column-type`.");
      auto type = [](const SchemaObject& c) {
        return c.Detail("type") +
               (c.Detail("collation").empty() ? "" : " COLLATE " + c.Detail("collation"));
      };
      Add(Phase::kTransactional, kAlterColumn, column_alter + "TYPE " + type(after),
          column_alter + "TYPE " + type(before));
    }
    if (before.Detail("generated") != after.Detail("generated")) {
      Todo("column " + d.name +
           ": its generation expression changed, which PostgreSQL 15 cannot alter; add a new "
           "column instead.");
    }
    if (before.Detail("default") != after.Detail("default")) {
      auto set_default = [&](const SchemaObject& c) {
        return c.Detail("default").empty() ? column_alter + "DROP DEFAULT"
                                           : column_alter + "SET DEFAULT " + c.Detail("default");
      };
      Add(Phase::kTransactional, kAlterColumn, set_default(after), set_default(before));
    }
    if (before.Detail("identity") != after.Detail("identity")) {
      auto identity = [](const std::string& code) {
        return std::string(code == "a" ? "ALWAYS" : "BY DEFAULT");
      };
      const std::string& from = before.Detail("identity");
      const std::string& to = after.Detail("identity");
      if (from.empty()) {
        Add(Phase::kTransactional, kAlterColumn,
            column_alter + "ADD GENERATED " + identity(to) + " AS IDENTITY",
            column_alter + "DROP IDENTITY");
      } else if (to.empty()) {
        Add(Phase::kTransactional, kAlterColumn, column_alter + "DROP IDENTITY",
            column_alter + "ADD GENERATED " + identity(from) + " AS IDENTITY");
      } else {
        Add(Phase::kTransactional, kAlterColumn, column_alter + "SET GENERATED " + identity(to),
            column_alter + "SET GENERATED " + identity(from));
      }
    }
    if (before.Detail("not_null") != after.Detail("not_null")) {
      if (after.Detail("not_null") == "t") {
        PlanSetNotNull(d.name, before, column_alter);
      } else {
        Todo("column " + d.name +
             " drops NOT NULL: the previous release may read NULLs it does not expect "
             "(squawk's ban-drop-not-null). Release code that copes first, then add "
             "`-- squawk-ignore ban-drop-not-null` with the reason.");
        Add(Phase::kTransactional, kAlterColumn, column_alter + "DROP NOT NULL",
            column_alter + "SET NOT NULL");
      }
    }
  }

  // NOT NULL on an existing column without a scan under an exclusive lock.
  void PlanSetNotNull(const std::string& column_name, const SchemaObject& column,
                      const std::string& column_alter) {
    const std::string table = column.Detail("sql_table");
    const std::string name = column.Detail("sql_name");
    const std::string raw_name = column_name.substr(column_name.rfind('.') + 1);
    const std::string check_name = NotNullCheckName(column.Detail("table"), raw_name);
    const std::string check = QuoteIdent(check_name);
    const std::string add_check = "ALTER TABLE " + table + " ADD CONSTRAINT " + check + " CHECK (" +
                                  name + " IS NOT NULL) NOT VALID";
    const std::string drop_check = "ALTER TABLE " + table + " DROP CONSTRAINT IF EXISTS " + check;
    Add(Phase::kTransactional, kAlterColumn, add_check, drop_check);
    // Each statement can run again after a failure: VALIDATE only while the
    // check exists, and the check goes last.
    Add(Phase::kConcurrent, kAlterColumn,
        IfConstraint(true, table, check_name,
                     "ALTER TABLE " + table + " VALIDATE CONSTRAINT " + check),
        drop_check + ";\n" + IfConstraint(false, table, check_name, add_check));
    // With the check valid, SET NOT NULL does not scan the table (PostgreSQL
    // 12+), which squawk's adding-not-nullable-field cannot know.
    Add(Phase::kConcurrent, kAlterColumn,
        "-- The valid check lets PostgreSQL set NOT NULL without scanning the table.\n" +
            IfColumnNotNull(false, table, raw_name, column_alter + "SET NOT NULL"),
        IfColumnNotNull(true, table, raw_name, column_alter + "DROP NOT NULL"));
    Add(Phase::kConcurrent, kAlterColumn, drop_check,
        IfConstraint(false, table, check_name,
                     "ALTER TABLE " + table + " ADD CONSTRAINT " + check + " CHECK (" + name +
                         " IS NOT NULL)"));
  }

  void PlanConstraint(const SchemaDifference& d, bool added, bool removed) {
    const SchemaObject& constraint = Either(d);
    const std::string type = constraint.Detail("type");
    if (type == "f" && (ParentAdded(constraint) || ParentDropped(constraint))) {
      // The table's foreign key, after every table is created (or before any
      // is dropped): the tables are new or going, so no NOT VALID.
      const std::string alter = "ALTER TABLE " + constraint.Detail("sql_table");
      const std::string add = alter + " ADD CONSTRAINT " + constraint.Detail("sql_name") + " " +
                              constraint.Detail("def");
      const std::string drop = alter + " DROP CONSTRAINT " + constraint.Detail("sql_name");
      if (ParentAdded(constraint)) {
        Add(Phase::kTransactional, kAddForeignKey, add, drop);
      } else {
        Add(Phase::kTransactional, kDropForeignKey, drop, add);
      }
      return;
    }
    if (ParentAdded(constraint) || ParentDropped(constraint)) return;  // in CREATE/DROP TABLE
    const bool on_domain = constraint.Detail("table").empty();
    const std::string alter =
        std::string(on_domain ? "ALTER DOMAIN " : "ALTER TABLE ") + constraint.Detail("sql_table");
    const std::string name = constraint.Detail("sql_name");
    auto add_as_is = [&](const SchemaObject& c) {
      return alter + " ADD CONSTRAINT " + name + " " + c.Detail("def") +
             (c.Detail("validated") == "f" ? " NOT VALID" : "");
    };
    const std::string drop = alter + " DROP CONSTRAINT IF EXISTS " + name;
    if (on_domain || type == "x" || type == "t") {
      if (!added) Add(Phase::kTransactional, kDropConstraint, drop, add_as_is(*d.before_object));
      if (!removed) Add(Phase::kTransactional, kAddConstraint, add_as_is(*d.after_object), drop);
      if (type == "x") {
        Todo("constraint " + d.name +
             ": an exclusion constraint, built under an exclusive "
             "lock; check that the table is small, or build it by hand.");
      }
      return;
    }
    if (!added) {
      // Restoring it in the down file scans the table: a rollback.
      std::string restore = add_as_is(*d.before_object);
      if (type == "u" || type == "p") {
        restore = Ignoring("disallowed-unique-constraint",
                           "Restores the constraint the up file dropped.", restore);
      } else if (d.before_object->Detail("validated") == "t") {
        restore = Ignoring("constraint-missing-not-valid",
                           "Restores the constraint the up file dropped.", restore);
      }
      Add(Phase::kTransactional, type == "f" ? kDropForeignKey : kDropConstraint, drop, restore);
    }
    if (removed) return;
    const SchemaObject& after = *d.after_object;
    if (type == "u" || type == "p") {
      const SchemaObject* index =
          declared_.Find("index", d.name.substr(0, d.name.find('.')) + "." + NameOnly(d.name));
      if (index == nullptr) {
        Todo("constraint " + d.name + ": its index was not found; write it by hand.");
        return;
      }
      const std::string using_index = alter + " ADD CONSTRAINT " + name +
                                      (type == "p" ? " PRIMARY KEY" : " UNIQUE") + " USING INDEX " +
                                      name;
      Add(Phase::kConcurrent, kCreateIndex, Concurrently(index->Detail("create")),
          "DROP INDEX CONCURRENTLY IF EXISTS " + index->Detail("sql_name"));
      Add(Phase::kConcurrent, kAddConstraintUsingIndex,
          IfConstraint(false, after.Detail("sql_table"), NameOnly(d.name), using_index), drop);
      return;
    }
    // CHECK and FOREIGN KEY: NOT VALID now, VALIDATE in the second migration.
    const std::string add_not_valid =
        alter + " ADD CONSTRAINT " + name + " " + after.Detail("def") + " NOT VALID";
    Add(Phase::kTransactional, type == "f" ? kAddForeignKey : kAddConstraint, add_not_valid, drop);
    if (after.Detail("validated") == "t") {
      Add(Phase::kConcurrent, type == "f" ? kAddForeignKey : kAddConstraint,
          IfConstraint(true, after.Detail("sql_table"), NameOnly(d.name),
                       alter + " VALIDATE CONSTRAINT " + name),
          drop + ";\n" + add_not_valid);
    }
  }

  // "public.posts.posts_body_check" -> "posts_body_check"
  static std::string NameOnly(const std::string& dotted) {
    return dotted.substr(dotted.rfind('.') + 1);
  }

  void PlanIndex(const SchemaDifference& d, bool added, bool removed) {
    const SchemaObject& index = Either(d);
    if (index.Detail("constraint") == "t" ||
        (d.before_object != nullptr && d.before_object->Detail("constraint") == "t")) {
      return;  // the constraint's
    }
    const std::string drop_concurrently =
        "DROP INDEX CONCURRENTLY IF EXISTS " + index.Detail("sql_name");
    if (WithItsTable(index, kCreateIndex, kDropIndex)) return;
    if (!added) {
      Add(Phase::kConcurrent, kDropIndex, drop_concurrently,
          Concurrently(d.before_object->Detail("create")));
    }
    if (!removed) {
      Add(Phase::kConcurrent, kCreateIndex, Concurrently(d.after_object->Detail("create")),
          drop_concurrently);
    }
  }

  void PlanTableDependent(const SchemaDifference& d, bool added, bool removed) {
    const SchemaObject& object = Either(d);
    if ((!added && d.before_object->Detail("create").empty()) ||
        (!removed && d.after_object->Detail("create").empty())) {
      Todo(d.kind + " " + d.name +
           ": a disabled trigger, which migrate does not write; write "
           "it, and its down, by hand.");
      return;
    }
    if (WithItsTable(object, kCreateDependent, kDropDependent)) return;
    if (!added) {
      Add(Phase::kTransactional, kDropDependent, object.Detail("drop"),
          d.before_object->Detail("create"));
    }
    if (!removed) {
      Add(Phase::kTransactional, kCreateDependent, d.after_object->Detail("create"),
          object.Detail("drop"));
    }
  }

  void PlanGrant(const SchemaDifference& d) {
    const SchemaObject& object = Either(d);
    const std::string& target = object.Detail("sql_object");
    if (target.empty()) {
      Todo("grant " + d.name +
           " changed: migrate does not write ALTER DEFAULT PRIVILEGES; "
           "write it, and its down, by hand.");
      return;
    }
    const ParsedAcl before = ParseAcl(d.before.value_or(object.Detail("default_acl")));
    const ParsedAcl after = ParseAcl(d.after.value_or(object.Detail("default_acl")));
    if (before.grant_options || after.grant_options) {
      Todo("grant " + d.name + ": privileges WITH GRANT OPTION, which migrate does not write.");
      return;
    }
    // While the object exists after the change, after the objects are
    // created; otherwise before they are dropped.
    const int rank = d.after.has_value() ? kGrantOrComment : kRevokeOrUncomment;
    for (const AclStep& step : AclSteps(before, after, target, object.Detail("sql_column"))) {
      Add(Phase::kTransactional,
          step.revoke && rank == kGrantOrComment ? kRevokeFromExisting : rank, step.statement,
          step.inverse);
    }
  }

  // The GRANTs and REVOKEs from ACL `before` to `after` of `target`
  // ("TABLE public.t"; `column` for column privileges).
  struct AclStep {
    bool revoke;
    std::string statement;
    std::string inverse;
  };
  static std::vector<AclStep> AclSteps(const ParsedAcl& before, const ParsedAcl& after,
                                       const std::string& target, const std::string& column) {
    std::set<std::string> grantees;
    for (const auto& [grantee, unused] : before.privileges) grantees.insert(grantee);
    for (const auto& [grantee, unused] : after.privileges) grantees.insert(grantee);
    std::vector<AclStep> steps;
    for (const std::string& grantee : grantees) {
      auto get = [&grantee](const ParsedAcl& acl) {
        auto it = acl.privileges.find(grantee);
        return it == acl.privileges.end() ? std::set<char>{} : it->second;
      };
      const std::set<char> had = get(before);
      const std::set<char> has = get(after);
      std::set<char> granted;
      std::set<char> revoked;
      std::set_difference(has.begin(), has.end(), had.begin(), had.end(),
                          std::inserter(granted, granted.end()));
      std::set_difference(had.begin(), had.end(), has.begin(), has.end(),
                          std::inserter(revoked, revoked.end()));
      const std::string role = grantee == "PUBLIC" ? grantee : QuoteIdent(grantee);
      auto grant = [&](const std::set<char>& privileges) {
        return ForRole(grantee, "GRANT " + PrivilegeNames(privileges, column) + " ON " + target +
                                    " TO " + role);
      };
      auto revoke = [&](const std::set<char>& privileges) {
        return ForRole(grantee, "REVOKE " + PrivilegeNames(privileges, column) + " ON " + target +
                                    " FROM " + role);
      };
      if (!granted.empty()) steps.push_back({false, grant(granted), revoke(granted)});
      if (!revoked.empty()) steps.push_back({true, revoke(revoked), grant(revoked)});
    }
    return steps;
  }

  // What re-creating view `name` of `side` must give back besides its
  // definition: its grants and its comment.
  static std::string ViewExtras(const SchemaSnapshot& side, const std::string& name,
                                const std::string& sql_name) {
    std::string extras;
    if (const SchemaObject* grant = side.Find("grant", "view " + name)) {
      const ParsedAcl acl = ParseAcl(grant->definition);
      for (const AclStep& step :
           AclSteps(ParseAcl(grant->Detail("default_acl")), acl, grant->Detail("sql_object"), "")) {
        extras += ";\n" + step.statement;
      }
    }
    for (const auto& [key, comment] : side.entries()) {
      if (key.kind == "comment" && comment.Detail("sql_object") == "VIEW " + sql_name) {
        extras += ";\nCOMMENT ON VIEW " + sql_name + " IS " + SingleQuoted(comment.Detail("value"));
      }
    }
    return extras;
  }

  void PlanComment(const SchemaDifference& d, bool removed) {
    const SchemaObject& object = Either(d);
    const std::string& target = object.Detail("sql_object");
    if (target.empty()) {
      Todo("comment on " + d.name +
           ": migrate cannot name this object in COMMENT ON; write "
           "it, and its down, by hand.");
      return;
    }
    auto comment = [&target](const SchemaObject* c) {
      return "COMMENT ON " + target + " IS " +
             (c == nullptr ? std::string("NULL") : SingleQuoted(c->Detail("value")));
    };
    // An index or constraint may be built by the concurrent migration.
    const bool late = target.rfind("INDEX ", 0) == 0 || target.rfind("CONSTRAINT ", 0) == 0;
    const Phase phase = late ? Phase::kConcurrent : Phase::kTransactional;
    Add(phase, removed ? kRevokeOrUncomment : kGrantOrComment, comment(d.after_object),
        comment(d.before_object));
  }

  // A dropped table or column next to an added one of the same shape looks
  // like a rename, which migrate cannot tell from a drop and an add.
  void FindRenames() {
    std::map<std::string, std::vector<std::string>> dropped_columns;  // "table|type" -> names
    for (const SchemaDifference& d : differences_) {
      if (d.kind == "column" && d.after_object == nullptr) {
        dropped_columns[d.before_object->Detail("table") + "|" + d.before_object->Detail("type")]
            .push_back(d.name);
      }
    }
    for (const SchemaDifference& d : differences_) {
      if (d.kind != "column" || d.before_object != nullptr) continue;
      auto it = dropped_columns.find(d.after_object->Detail("table") + "|" +
                                     d.after_object->Detail("type"));
      if (it == dropped_columns.end() || it->second.empty()) continue;
      Todo("column " + it->second.front() + " is dropped and " + d.name +
           " added with the same type: if this is a rename, do not ship it as written (it "
           "loses the data). Rename through expand/contract instead (migrations/README.md, "
           "\"Rename a column\").");
    }
    // Tables: the same columns (names and types).
    auto shape = [](const SchemaSnapshot& side, const std::string& table) {
      std::set<std::string> columns;
      for (const auto& [key, object] : side.entries()) {
        if (key.kind == "column" && object.Detail("table") == table) {
          columns.insert(object.Detail("sql_name") + " " + object.Detail("type"));
        }
      }
      return columns;
    };
    for (const std::string& added : added_tables_) {
      for (const std::string& dropped : dropped_tables_) {
        if (shape(declared_, added) != shape(current_, dropped)) continue;
        Todo("table " + dropped + " is dropped and " + added +
             " added with the same columns: if this is a rename, do not ship it as written (it "
             "loses the data). Rename through expand/contract instead (migrations/README.md, "
             "\"Rename a column\", works for tables too).");
      }
    }
  }

  // Functions are created before tables (defaults and triggers use them),
  // so a LANGUAGE sql body may name a table created later in the same file:
  // as pg_dump does, the file does not check bodies at creation (SET LOCAL:
  // for the file's transaction only).
  static void DeferFunctionBodyChecks(std::vector<std::string>& statements) {
    const bool creates_function =
        std::any_of(statements.begin(), statements.end(), [](const std::string& statement) {
          return statement.rfind("CREATE OR REPLACE FUNCTION", 0) == 0 ||
                 statement.rfind("CREATE OR REPLACE PROCEDURE", 0) == 0;
        });
    if (!creates_function) return;
    statements.insert(statements.begin(),
                      "-- Function bodies may name tables created below; they are checked when "
                      "called.\nSET LOCAL check_function_bodies = off");
  }

  void Assemble() {
    std::stable_sort(steps_.begin(), steps_.end(), [](const Step& a, const Step& b) {
      return std::make_pair(static_cast<int>(a.phase), a.rank) <
             std::make_pair(static_cast<int>(b.phase), b.rank);
    });
    for (Phase phase : {Phase::kTransactional, Phase::kConcurrent}) {
      GeneratedMigration migration;
      migration.no_transaction = phase == Phase::kConcurrent;
      for (const Step& step : steps_) {
        if (step.phase != phase) continue;
        if (!step.up.empty()) migration.up.push_back(step.up);
        if (!step.down.empty()) migration.down.push_back(step.down);
      }
      std::reverse(migration.down.begin(), migration.down.end());
      if (migration.up.empty() && migration.down.empty()) continue;
      if (!migration.no_transaction) {
        DeferFunctionBodyChecks(migration.up);
        DeferFunctionBodyChecks(migration.down);
      }
      migration.name_suffix =
          phase == Phase::kConcurrent && !plan_.migrations.empty() ? "_concurrently" : "";
      plan_.migrations.push_back(std::move(migration));
    }
  }

  const SchemaSnapshot& current_;
  const SchemaSnapshot& declared_;
  std::vector<SchemaDifference> differences_;
  std::set<std::string> added_tables_;
  std::set<std::string> dropped_tables_;
  std::vector<Step> steps_;
  MigrationPlan plan_;
};

}  // namespace

MigrationPlan PlanMigration(const SchemaSnapshot& current, const SchemaSnapshot& declared) {
  return Planner(current, declared).Run();
}

}  // namespace migrate
}  // namespace microblog
