// SQL statements kept as data: each store declares its statements together,
// in one table, as NamedStatement constants, and runs them through its
// ConnectionPool, which decides how (ConnectionPoolOptions::
// prepared_statements, the DB_PREPARED_STATEMENTS setting):
//
//   constexpr NamedStatement kDeletePost{"post_delete", "DELETE FROM posts WHERE id = $1"};
//   constexpr NamedStatement kStatements[] = {kDeletePost, ...};
//   void PostgresPostStore::PrepareStatements(pqxx::connection& c) { PrepareAll(c, kStatements); }
//   ...
//   pool_.Exec(tx, kDeletePost, id);  // ConnectionPool::Exec -> Exec() below
//
// StatementMode::kPrepared: the pool prepares the whole table on every new
// connection (ConnectionPoolOptions::prepare) and Exec runs the statement by
// its name (exec_prepared). StatementMode::kUnnamed: nothing is prepared;
// Exec sends the SQL with its parameters as an unnamed statement
// (exec_params: parse, bind and execute in one round trip), which is what a
// transaction-mode pooler allows, since consecutive transactions of one
// client connection may run on different server connections.
//
// Code runs a statement by its constant, never by a string typed twice, and
// never chooses between the two modes itself.
//
// Thread-safety: PrepareAll and Exec use only `connection` / `tx`, which
// libpqxx does not let two threads share.
#ifndef MICROBLOG_COMMON_DB_NAMED_STATEMENT_H_
#define MICROBLOG_COMMON_DB_NAMED_STATEMENT_H_

#include <cstddef>
#include <utility>

#include <pqxx/connection>
#include <pqxx/result>
#include <pqxx/transaction_base>

namespace microblog {

// A prepared statement's name (unique per connection) and its SQL.
struct NamedStatement {
  const char* name;
  const char* sql;
};

// How statements run on a connection (see above).
enum class StatementMode { kPrepared, kUnnamed };

// Prepares every statement of `statements` on `connection`. Throws pqxx
// exceptions (e.g. pqxx::sql_error for SQL the server refuses).
template <std::size_t N>
void PrepareAll(pqxx::connection& connection, const NamedStatement (&statements)[N]) {
  for (const NamedStatement& statement : statements) {
    connection.prepare(statement.name, statement.sql);
  }
}

// Runs `statement` with `args` in `tx`, by name (kPrepared: it must have
// been prepared on tx's connection) or unnamed (kUnnamed). Throws what
// libpqxx throws.
template <typename... Args>
pqxx::result Exec(pqxx::transaction_base& tx, StatementMode mode, const NamedStatement& statement,
                  Args&&... args) {
  if (mode == StatementMode::kPrepared) {
    return tx.exec_prepared(statement.name, std::forward<Args>(args)...);
  }
  return tx.exec_params(statement.sql, std::forward<Args>(args)...);
}

}  // namespace microblog

#endif  // MICROBLOG_COMMON_DB_NAMED_STATEMENT_H_
