// PostgreSQL array literals, to pass a list as one parameter of a
// statement (common/db/named_statement.h):
//
//   pool.Exec(tx, kGetByIds, BigintArray(ids));   // WHERE id = ANY ($1::bigint[])
//
// Thread-safety: free functions without shared state.
#ifndef MICROBLOG_COMMON_DB_ARRAY_LITERAL_H_
#define MICROBLOG_COMMON_DB_ARRAY_LITERAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace microblog {

// The PostgreSQL array literal of `ids` ("{1,2,3}"), to pass a list as one
// parameter of a prepared statement: `WHERE id = ANY ($1::bigint[])`.
std::string BigintArray(const std::vector<int64_t>& ids);

// The PostgreSQL array literal of `texts` for a `$1::text[]` parameter:
// every element double-quoted with '"' and '\\' escaped, so any text
// round-trips (commas, braces, quotes, spaces, the word NULL); an unset
// element is SQL NULL.
std::string TextArray(const std::vector<std::optional<std::string>>& texts);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_DB_ARRAY_LITERAL_H_
