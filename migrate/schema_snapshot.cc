#include "migrate/schema_snapshot.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace microblog {
namespace migrate {
namespace {

// Objects in these schemas belong to PostgreSQL, not to the migrations. `ns`
// is the pg_namespace alias.
std::string UserSchema(const std::string& ns) {
  return "(" + ns + ".nspname NOT IN ('pg_catalog', 'information_schema') AND " + ns +
         ".nspname !~ '^pg_(toast|temp_|toast_temp_)')";
}

// Not a member of an extension (the extension itself is compared).
std::string NotInExtension(const std::string& catalog, const std::string& oid) {
  return "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '" + catalog +
         "'::regclass AND e.objid = " + oid + " AND e.deptype = 'e')";
}

struct KindQuery {
  const char* kind;
  // Rows of (name, definition, details...): every column after the second
  // is a detail named by the column (NULL: absent).
  std::string sql;
};

// `schema.name` of a relation, quoted for SQL. `ns` and `c` are the aliases of
// pg_namespace and pg_class.
std::string QualifiedSql(const std::string& ns, const std::string& c) {
  return "format('%I.%I', " + ns + ".nspname, " + c + ".relname)";
}

// The kinds in reporting order; see schema_snapshot.h. Details, per kind:
//   schema, extension, type, sequence, view, function: create, drop (DDL);
//     view also sql_name
//   table: create (an empty CREATE TABLE), drop, plain ('t' when an ordinary
//     table without inheritance or partitioning: one the generator can write)
//   column: table (snapshot name), relkind, sql_table, sql_name, type,
//     not_null ('t'/'f'), default, identity ('a'/'d'), generated, collation,
//     ddl (the column as CREATE TABLE writes it), position (attnum, 5 digits)
//   constraint: table (snapshot name of the table; empty for a domain's),
//     sql_table, sql_name, type (pg_constraint.contype), def
//     (pg_get_constraintdef without NOT VALID), validated
//   index: table, sql_name, create (pg_get_indexdef), constraint ('t' when
//     the index is a constraint's)
//   trigger, policy: table, create, drop
//   grant: sql_object ("TABLE public.posts", "FUNCTION public.f(integer)"),
//     sql_column (column grants), default_acl
//   comment: sql_object (the COMMENT ON target; absent when unsupported),
//     value
const std::vector<KindQuery>& Queries() {
  static const auto* queries = new std::vector<KindQuery>{
      {"schema",
       "SELECT n.nspname, 'owner ' || pg_get_userbyid(n.nspowner),"
       "  format('CREATE SCHEMA %I', n.nspname) AS create, format('DROP SCHEMA %I', n.nspname) "
       "AS drop"
       "  FROM pg_namespace n WHERE " +
           UserSchema("n")},
      {"extension",
       "SELECT x.extname, 'version ' || x.extversion || ' in schema ' || n.nspname,"
       "  format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I VERSION %L', x.extname,"
       "         n.nspname, x.extversion) AS create,"
       "  format('DROP EXTENSION IF EXISTS %I', x.extname) AS drop"
       "  FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace"},
      {"type",
       "SELECT n.nspname || '.' || t.typname,"
       "  CASE t.typtype"
       "    WHEN 'e' THEN 'enum (' || coalesce((SELECT string_agg(quote_literal(v.enumlabel), ', '"
       "        ORDER BY v.enumsortorder) FROM pg_enum v WHERE v.enumtypid = t.oid), '') || ')'"
       "    WHEN 'd' THEN 'domain over ' || format_type(t.typbasetype, t.typtypmod)"
       "      || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END"
       "      || coalesce(' DEFAULT ' || t.typdefault, '')"
       "    WHEN 'c' THEN 'composite type'"
       "    WHEN 'r' THEN 'range of ' || (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r"
       "                                  WHERE r.rngtypid = t.oid)"
       "    ELSE 'type ' || t.typtype::text END"
       "  || ', owner ' || pg_get_userbyid(t.typowner),"
       "  CASE t.typtype"
       "    WHEN 'e' THEN format('CREATE TYPE %I.%I AS ENUM (', n.nspname, t.typname)"
       "      || coalesce((SELECT string_agg(quote_literal(v.enumlabel), ', '"
       "        ORDER BY v.enumsortorder) FROM pg_enum v WHERE v.enumtypid = t.oid), '') || ')'"
       "    WHEN 'd' THEN format('CREATE DOMAIN %I.%I AS %s', n.nspname, t.typname,"
       "        format_type(t.typbasetype, t.typtypmod))"
       "      || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END"
       "      || coalesce(' DEFAULT ' || t.typdefault, '') END AS create,"
       "  CASE WHEN t.typtype = 'd' THEN format('DROP DOMAIN %I.%I', n.nspname, t.typname)"
       "    ELSE format('DROP TYPE %I.%I', n.nspname, t.typname) END AS drop"
       "  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
       " WHERE t.typtype IN ('e', 'd', 'c', 'r')"
       "   AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = "
       "'c')"
       "   AND " +
           UserSchema("n") + " AND " + NotInExtension("pg_type", "t.oid")},
      {"table",
       "SELECT n.nspname || '.' || c.relname,"
       "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'"
       "    WHEN 'f' THEN 'foreign table' ELSE 'relation kind ' || c.relkind::text END"
       "  || CASE c.relpersistence WHEN 'u' THEN ', unlogged' ELSE '' END"
       "  || ', owner ' || pg_get_userbyid(c.relowner)"
       "  || CASE WHEN c.relkind = 'p' THEN ', partition by ' || pg_get_partkeydef(c.oid) ELSE '' "
       "END"
       "  || coalesce(', inherits ' || (SELECT string_agg(i.inhparent::regclass::text, ', '"
       "       ORDER BY i.inhseqno) FROM pg_inherits i WHERE i.inhrelid = c.oid), '')"
       "  || CASE WHEN c.relispartition THEN ' ' || pg_get_expr(c.relpartbound, c.oid) ELSE '' END"
       "  || CASE WHEN c.relrowsecurity THEN ', row level security' ELSE '' END"
       "  || CASE WHEN c.relforcerowsecurity THEN ' (forced)' ELSE '' END"
       "  || coalesce(', with (' || array_to_string(c.reloptions, ', ') || ')', ''),"
       "  'CREATE TABLE ' || " +
           QualifiedSql("n", "c") + " AS create, 'DROP TABLE ' || " + QualifiedSql("n", "c") +
           " AS drop,"
           "  CASE WHEN c.relkind = 'r' AND NOT c.relispartition AND c.reloptions IS NULL"
           "    AND c.relpersistence = 'p' AND NOT c.relrowsecurity"
           "    AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)"
           "    THEN 't' ELSE 'f' END AS plain"
           "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
           " WHERE c.relkind IN ('r', 'p', 'f') AND c.relname <> 'schema_migrations'"
           "   AND " +
           UserSchema("n") + " AND " + NotInExtension("pg_class", "c.oid")},
      {"column",
       "SELECT n.nspname || '.' || c.relname || '.' || a.attname,"
       "  format_type(a.atttypid, a.atttypmod)"
       "  || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END"
       "  || CASE WHEN a.attgenerated = 's'"
       "       THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'"
       "       ELSE coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') END"
       "  || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'"
       "       WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END"
       "  || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation"
       "       THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END,"
       "  n.nspname || '.' || c.relname AS table, c.relkind::text AS relkind,"
       "  " +
           QualifiedSql("n", "c") +
           " AS sql_table, quote_ident(a.attname) AS sql_name,"
           "  replace(format_type(a.atttypid, a.atttypmod), 'character varying', 'varchar') AS "
           "type,"
           "  CASE WHEN a.attnotnull THEN 't' ELSE 'f' END AS not_null,"
           "  CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default,"
           "  nullif(a.attidentity::text, '') AS identity,"
           "  CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated,"
           "  CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation"
           "    THEN a.attcollation::regcollation::text END AS collation,"
           "  quote_ident(a.attname) || ' '"
           "  || replace(format_type(a.atttypid, a.atttypmod), 'character varying', 'varchar')"
           "  || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation"
           "       THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END"
           "  || CASE WHEN a.attgenerated = 's'"
           "       THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'"
           "       ELSE coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') END"
           "  || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'"
           "       WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END"
           "  || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END AS ddl,"
           "  lpad(a.attnum::text, 5, '0') AS position"
           "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
           "  JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid"
           "  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
           " WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm', "
           "'c')"
           "   AND c.relname <> 'schema_migrations'"
           "   AND " +
           UserSchema("n") + " AND " + NotInExtension("pg_class", "c.oid")},
      {"constraint",
       "SELECT n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || k.conname,"
       "  pg_get_constraintdef(k.oid),"
       "  coalesce(n.nspname || '.' || c.relname, '') AS table,"
       "  CASE WHEN c.oid IS NOT NULL THEN " +
           QualifiedSql("n", "c") +
           " ELSE format('%I.%I', n.nspname, t.typname) END AS sql_table,"
           "  quote_ident(k.conname) AS sql_name, k.contype::text AS type,"
           "  regexp_replace(pg_get_constraintdef(k.oid), ' NOT VALID$', '') AS def,"
           "  CASE WHEN k.convalidated THEN 't' ELSE 'f' END AS validated"
           "  FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace"
           "  LEFT JOIN pg_class c ON c.oid = k.conrelid LEFT JOIN pg_type t ON t.oid = k.contypid"
           " WHERE coalesce(c.relname, '') <> 'schema_migrations' AND " +
           UserSchema("n") + " AND " + NotInExtension("pg_constraint", "k.oid")},
      {"index",
       "SELECT n.nspname || '.' || ic.relname, pg_get_indexdef(i.indexrelid)"
       "  || CASE WHEN NOT i.indisvalid THEN ' (INVALID)' ELSE '' END"
       "  || CASE WHEN i.indisclustered THEN ' (CLUSTER)' ELSE '' END,"
       "  n.nspname || '.' || tc.relname AS table,"
       "  format('%I.%I', n.nspname, ic.relname) AS sql_name,"
       "  pg_get_indexdef(i.indexrelid) AS create,"
       "  CASE WHEN EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid"
       "    AND k.contype IN ('p', 'u', 'x')) THEN 't' ELSE 'f' END AS constraint"
       "  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
       "  JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_namespace n ON n.oid = ic.relnamespace"
       " WHERE tc.relname <> 'schema_migrations' AND " +
           UserSchema("n") + " AND " + NotInExtension("pg_class", "tc.oid")},
      {"sequence",
       "SELECT n.nspname || '.' || c.relname,"
       "  format_type(s.seqtypid, NULL) || ' start ' || s.seqstart || ' increment '"
       "  || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || "
       "s.seqcache"
       "  || CASE WHEN s.seqcycle THEN ' cycle' ELSE ' no cycle' END"
       "  || ', owner ' || pg_get_userbyid(c.relowner)"
       "  || coalesce((SELECT CASE d.deptype WHEN 'i' THEN ', identity of ' ELSE ', owned by ' END"
       "               || d.refobjid::regclass::text || '.' || quote_ident(a.attname)"
       "               FROM pg_depend d JOIN pg_attribute a"
       "                 ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
       "              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid"
       "                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')"
       "              LIMIT 1), ''),"
       "  format('CREATE SEQUENCE %I.%I AS %s INCREMENT %s MINVALUE %s MAXVALUE %s START %s "
       "CACHE %s', n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqincrement,"
       "         s.seqmin, s.seqmax, s.seqstart, s.seqcache)"
       "  || CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END AS create,"
       "  format('DROP SEQUENCE %I.%I', n.nspname, c.relname) AS drop,"
       "  (SELECT d.deptype::text FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
       "     AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass"
       "     AND d.deptype IN ('a', 'i') LIMIT 1) AS owned"
       "  FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid"
       "  JOIN pg_namespace n ON n.oid = c.relnamespace"
       " WHERE " +
           UserSchema("n") + " AND " + NotInExtension("pg_class", "c.oid")},
      {"view",
       "SELECT n.nspname || '.' || c.relname,"
       "  CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END"
       "  || ', owner ' || pg_get_userbyid(c.relowner)"
       "  || coalesce(', with (' || array_to_string(c.reloptions, ', ') || ')', '')"
       "  || ': ' || pg_get_viewdef(c.oid),"
       "  CASE WHEN c.relkind = 'm' THEN 'CREATE MATERIALIZED VIEW ' ELSE 'CREATE VIEW ' END"
       "  || " +
           QualifiedSql("n", "c") +
           " || coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', '')"
           "  || ' AS' || E'\\n' || rtrim(pg_get_viewdef(c.oid), ';') AS create,"
           "  CASE WHEN c.relkind = 'm' THEN 'DROP MATERIALIZED VIEW ' ELSE 'DROP VIEW ' END"
           "  || " +
           QualifiedSql("n", "c") + " AS drop, " + QualifiedSql("n", "c") +
           " AS sql_name"
           "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
           " WHERE c.relkind IN ('v', 'm') AND " +
           UserSchema("n") + " AND " + NotInExtension("pg_class", "c.oid")},
      {"function",
       "SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid)"
       "  || ')',"
       "  CASE WHEN p.prokind = 'a' THEN 'aggregate' || E'\\n' ELSE pg_get_functiondef(p.oid) END"
       "  || '-- owner ' || pg_get_userbyid(p.proowner),"
       "  CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS create,"
       "  CASE p.prokind WHEN 'p' THEN 'DROP PROCEDURE ' WHEN 'a' THEN 'DROP AGGREGATE '"
       "    ELSE 'DROP FUNCTION ' END || p.oid::regprocedure::text AS drop"
       "  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
       " WHERE " +
           UserSchema("n") + " AND " + NotInExtension("pg_proc", "p.oid")},
      {"trigger",
       "SELECT n.nspname || '.' || c.relname || '.' || g.tgname, pg_get_triggerdef(g.oid)"
       "  || CASE g.tgenabled WHEN 'D' THEN ' (DISABLED)' WHEN 'R' THEN ' (ENABLE REPLICA)'"
       "       WHEN 'A' THEN ' (ENABLE ALWAYS)' ELSE '' END,"
       "  n.nspname || '.' || c.relname AS table,"
       "  CASE WHEN g.tgenabled = 'O' THEN pg_get_triggerdef(g.oid) END AS create,"
       "  format('DROP TRIGGER %I ON %I.%I', g.tgname, n.nspname, c.relname) AS drop"
       "  FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid"
       "  JOIN pg_namespace n ON n.oid = c.relnamespace"
       " WHERE NOT g.tgisinternal AND " +
           UserSchema("n")},
      {"policy",
       "SELECT n.nspname || '.' || c.relname || '.' || p.polname,"
       "  CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END || ' FOR '"
       "  || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'"
       "       WHEN 'd' THEN 'DELETE' ELSE 'ALL' END"
       "  || ' TO ' || (SELECT string_agg(r.name, ', ' ORDER BY r.name) FROM"
       "       (SELECT CASE WHEN o = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(o)::text END AS name"
       "          FROM unnest(p.polroles) o) r)"
       "  || coalesce(' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', '')"
       "  || coalesce(' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', ''),"
       "  n.nspname || '.' || c.relname AS table,"
       "  format('CREATE POLICY %I ON %I.%I AS ', p.polname, n.nspname, c.relname)"
       "  || CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END || ' FOR '"
       "  || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'"
       "       WHEN 'd' THEN 'DELETE' ELSE 'ALL' END"
       "  || ' TO ' || (SELECT string_agg(r.name, ', ' ORDER BY r.name) FROM"
       "       (SELECT CASE WHEN o = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(o)) END"
       "          AS name FROM unnest(p.polroles) o) r)"
       "  || coalesce(' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', '')"
       "  || coalesce(' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', '')"
       "  AS create,"
       "  format('DROP POLICY %I ON %I.%I', p.polname, n.nspname, c.relname) AS drop"
       "  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
       "  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " +
           UserSchema("n")},
      {"rule",
       "SELECT schemaname || '.' || tablename || '.' || rulename, definition FROM pg_rules"
       " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"},
      // Effective ACLs (NULL means the default), compared sorted, and listed
      // only where they differ from the default: a GRANT followed by its
      // REVOKE leaves an explicit ACL equal to the default, which is the same
      // schema.
      {"grant",
       "WITH objects(name, acl, deflt, sql_object, sql_column) AS ("
       "  SELECT 'schema ' || n.nspname, n.nspacl, acldefault('n', n.nspowner),"
       "         format('SCHEMA %I', n.nspname), NULL"
       "    FROM pg_namespace n WHERE " +
           UserSchema("n") +
           "  UNION ALL"
           "  SELECT CASE c.relkind WHEN 'S' THEN 'sequence ' WHEN 'v' THEN 'view '"
           "           WHEN 'm' THEN 'materialized view ' ELSE 'table ' END"
           "         || n.nspname || '.' || c.relname,"
           "         c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' "
           "END::\"char\","
           "                              c.relowner),"
           "         CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || " +
           QualifiedSql("n", "c") +
           ", NULL"
           "    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
           "   WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND " +
           UserSchema("n") + "     AND " + NotInExtension("pg_class", "c.oid") +
           "  UNION ALL"
           "  SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname, a.attacl,"
           "         NULL::aclitem[], 'TABLE ' || " +
           QualifiedSql("n", "c") +
           ", quote_ident(a.attname)"
           "    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
           "    JOIN pg_namespace n ON n.oid = c.relnamespace"
           "   WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND " +
           UserSchema("n") +
           "  UNION ALL"
           "  SELECT 'function ' || n.nspname || '.' || p.proname || '('"
           "         || pg_get_function_identity_arguments(p.oid) || ')',"
           "         p.proacl, acldefault('f', p.proowner),"
           "         CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END"
           "         || p.oid::regprocedure::text, NULL"
           "    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
           "   WHERE " +
           UserSchema("n") + " AND " + NotInExtension("pg_proc", "p.oid") +
           "  UNION ALL"
           "  SELECT 'type ' || n.nspname || '.' || t.typname, t.typacl, acldefault('T', "
           "t.typowner), format('TYPE %I.%I', n.nspname, t.typname), NULL"
           "    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
           "   WHERE t.typtype IN ('e', 'd', 'r') AND " +
           UserSchema("n") + " AND " + NotInExtension("pg_type", "t.oid") +
           "  UNION ALL"
           "  SELECT 'default privileges of ' || pg_get_userbyid(d.defaclrole)"
           "         || coalesce(' in schema ' || n.nspname, '') || ' on ' || CASE d.defaclobjtype"
           "           WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'"
           "           WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text "
           "END,"
           "         d.defaclacl, NULL::aclitem[], NULL, NULL"
           "    FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace"
           ")"
           " SELECT name, acl, sql_object, sql_column, deflt AS default_acl FROM ("
           "   SELECT name,"
           "     (SELECT string_agg(x::text, ' ' ORDER BY x::text)"
           "        FROM unnest(coalesce(acl, deflt)) x) AS acl,"
           "     (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(deflt) x) AS deflt,"
           "     sql_object, sql_column"
           "   FROM objects) o"
           " WHERE acl IS DISTINCT FROM deflt"},
      // Objects PostgreSQL creates with a database have OIDs below 16384
      // (FirstNormalObjectId); their comments are the same in every database.
      {"comment",
       "SELECT pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description,"
       "  CASE"
       "    WHEN d.classoid = 'pg_class'::regclass THEN (SELECT"
       "      CASE WHEN d.objsubid <> 0 THEN 'COLUMN ' || format('%I.%I.%I', n.nspname, c.relname,"
       "             (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid"
       "                AND a.attnum = d.objsubid))"
       "        ELSE CASE c.relkind WHEN 'r' THEN 'TABLE ' WHEN 'p' THEN 'TABLE '"
       "          WHEN 'v' THEN 'VIEW ' WHEN 'm' THEN 'MATERIALIZED VIEW ' WHEN 'i' THEN 'INDEX '"
       "          WHEN 'S' THEN 'SEQUENCE ' WHEN 'f' THEN 'FOREIGN TABLE ' END"
       "          || format('%I.%I', n.nspname, c.relname) END"
       "      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = "
       "d.objoid)"
       "    WHEN d.classoid = 'pg_proc'::regclass THEN 'FUNCTION ' || d.objoid::regprocedure::text"
       "    WHEN d.classoid = 'pg_namespace'::regclass THEN 'SCHEMA ' || quote_ident("
       "      (SELECT nspname FROM pg_namespace WHERE oid = d.objoid))"
       "    WHEN d.classoid = 'pg_type'::regclass THEN 'TYPE ' || d.objoid::regtype::text"
       "    WHEN d.classoid = 'pg_constraint'::regclass THEN (SELECT"
       "      format('CONSTRAINT %I ON ', k.conname) || CASE WHEN k.conrelid <> 0"
       "        THEN k.conrelid::regclass::text ELSE 'DOMAIN ' || k.contypid::regtype::text END"
       "      FROM pg_constraint k WHERE k.oid = d.objoid)"
       "    WHEN d.classoid = 'pg_trigger'::regclass THEN (SELECT"
       "      format('TRIGGER %I ON ', g.tgname) || g.tgrelid::regclass::text"
       "      FROM pg_trigger g WHERE g.oid = d.objoid)"
       "    WHEN d.classoid = 'pg_policy'::regclass THEN (SELECT"
       "      format('POLICY %I ON ', p.polname) || p.polrelid::regclass::text"
       "      FROM pg_policy p WHERE p.oid = d.objoid)"
       "  END AS sql_object,"
       "  d.description AS value"
       "  FROM pg_description d WHERE d.objoid >= 16384"},
  };
  return *queries;
}

int KindOrder(const std::string& kind) {
  const std::vector<KindQuery>& queries = Queries();
  for (size_t i = 0; i < queries.size(); ++i) {
    if (kind == queries[i].kind) return static_cast<int>(i);
  }
  return static_cast<int>(queries.size());
}

std::string Indent(const std::string& text, const std::string& prefix) {
  std::string result;
  std::istringstream lines(text);
  std::string line;
  bool first = true;
  while (std::getline(lines, line)) {
    if (!first) result += "\n" + prefix;
    result += line;
    first = false;
  }
  return result;
}

}  // namespace

SchemaSnapshot SchemaSnapshot::Take(pqxx::connection_base& conn) {
  SchemaSnapshot snapshot;
  // REPEATABLE READ: one consistent view of the catalogs for every query.
  pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(conn);
  for (const KindQuery& query : Queries()) {
    const pqxx::result rows = tx.exec(query.sql);
    for (const pqxx::row& row : rows) {
      std::map<std::string, std::string> details;
      for (pqxx::row::size_type i = 2; i < row.size(); ++i) {
        if (!row[i].is_null()) details[rows.column_name(i)] = row[i].c_str();
      }
      snapshot.Add(query.kind, row[0].c_str(), row[1].is_null() ? "" : row[1].c_str(),
                   std::move(details));
    }
  }
  tx.commit();
  return snapshot;
}

const std::string& SchemaObject::Detail(const std::string& key) const {
  static const auto* empty = new std::string;
  auto it = details.find(key);
  return it == details.end() ? *empty : it->second;
}

void SchemaSnapshot::Add(const std::string& kind, const std::string& name,
                         const std::string& definition,
                         std::map<std::string, std::string> details) {
  SchemaObjectKey key{KindOrder(kind), kind, name};
  auto [it, inserted] = entries_.emplace(key, SchemaObject{definition, std::move(details)});
  // Names are unique per kind except for overloads that print alike; keep both.
  if (!inserted) it->second.definition += "\n" + definition;
}

const SchemaObject* SchemaSnapshot::Find(const std::string& kind, const std::string& name) const {
  auto it = entries_.find(SchemaObjectKey{KindOrder(kind), kind, name});
  return it == entries_.end() ? nullptr : &it->second;
}

std::string SchemaSnapshot::ToString() const {
  std::string text;
  for (const auto& [key, object] : entries_) {
    text += key.kind + " " + key.name + ": " + object.definition + "\n";
  }
  return text;
}

std::vector<SchemaDifference> CompareSnapshots(const SchemaSnapshot& before,
                                               const SchemaSnapshot& after) {
  std::vector<SchemaDifference> differences;
  auto b = before.entries().begin();
  auto a = after.entries().begin();
  while (b != before.entries().end() || a != after.entries().end()) {
    if (a == after.entries().end() || (b != before.entries().end() && b->first < a->first)) {
      differences.push_back(
          {b->first.kind, b->first.name, b->second.definition, std::nullopt, &b->second, nullptr});
      ++b;
    } else if (b == before.entries().end() || a->first < b->first) {
      differences.push_back(
          {a->first.kind, a->first.name, std::nullopt, a->second.definition, nullptr, &a->second});
      ++a;
    } else {
      if (a->second.definition != b->second.definition) {
        differences.push_back({a->first.kind, a->first.name, b->second.definition,
                               a->second.definition, &b->second, &a->second});
      }
      ++a;
      ++b;
    }
  }
  return differences;
}

std::string DescribeDifferences(const std::vector<SchemaDifference>& differences,
                                const std::string& before_label, const std::string& after_label,
                                const std::string& only_after, const std::string& only_before) {
  const SchemaDifference& first = differences.front();
  std::string what = first.kind + " " + first.name;
  if (!first.before.has_value()) {
    what += only_after.empty()
                ? " is left behind: it exists " + after_label + ", not at " + before_label
                : " " + only_after;
  } else if (!first.after.has_value()) {
    what += only_before.empty()
                ? " is missing: it exists at " + before_label + ", not " + after_label
                : " " + only_before;
  } else {
    what += " differs";
  }
  const size_t width = std::max(before_label.size(), after_label.size()) + 1;
  auto line = [&](const std::string& label, const std::optional<std::string>& definition) {
    std::string padded = label + ":" + std::string(width - label.size(), ' ');
    return "    " + padded +
           Indent(definition.value_or("(absent)"), std::string(4 + width + 1, ' ')) + "\n";
  };
  std::string text =
      "  " + what + ":\n" + line(before_label, first.before) + line(after_label, first.after);
  if (differences.size() > 1) {
    text += "  " + std::to_string(differences.size() - 1) + " more difference" +
            (differences.size() > 2 ? "s" : "") + ":";
    const size_t shown = std::min<size_t>(differences.size(), 6);
    for (size_t i = 1; i < shown; ++i) {
      text += (i == 1 ? " " : ", ") + differences[i].kind + " " + differences[i].name;
    }
    if (differences.size() > shown) text += ", ...";
    text += "\n";
  }
  return text;
}

}  // namespace migrate
}  // namespace microblog
