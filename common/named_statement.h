// SQL statements kept as data: each store declares its statements together,
// in one table, as NamedStatement constants, and prepares the whole table on
// every new connection of its ConnectionPool (ConnectionPoolOptions::prepare).
// Code runs a statement by its constant, never by a string typed twice:
//
//   constexpr NamedStatement kDeletePost{"post_delete", "DELETE FROM posts WHERE id = $1"};
//   constexpr NamedStatement kStatements[] = {kDeletePost, ...};
//   void PostgresPostStore::PrepareStatements(pqxx::connection& c) { PrepareAll(c, kStatements); }
//   ...
//   tx.exec_prepared(kDeletePost.name, id);
//
// Thread-safety: PrepareAll uses only `connection`, which libpqxx does not
// let two threads share.
#ifndef MICROBLOG_COMMON_NAMED_STATEMENT_H_
#define MICROBLOG_COMMON_NAMED_STATEMENT_H_

#include <cstddef>

#include <pqxx/connection>

namespace microblog {

// A prepared statement's name (unique per connection) and its SQL.
struct NamedStatement {
  const char* name;
  const char* sql;
};

// Prepares every statement of `statements` on `connection`. Throws pqxx
// exceptions (e.g. pqxx::sql_error for SQL the server refuses).
template <std::size_t N>
void PrepareAll(pqxx::connection& connection, const NamedStatement (&statements)[N]) {
  for (const NamedStatement& statement : statements) {
    connection.prepare(statement.name, statement.sql);
  }
}

}  // namespace microblog

#endif  // MICROBLOG_COMMON_NAMED_STATEMENT_H_
