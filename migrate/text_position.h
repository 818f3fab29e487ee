// Turns PostgreSQL's error position into a line and column a human can find.
//
// PostgreSQL reports where a statement failed as a 1-based character offset
// into the query string (PG_DIAG_STATEMENT_POSITION). Migration files are sent
// whole, so the offset is into the file; editors want line:column.
#ifndef MICROBLOG_MIGRATE_TEXT_POSITION_H_
#define MICROBLOG_MIGRATE_TEXT_POSITION_H_

#include <string_view>

namespace microblog {
namespace migrate {

struct LineColumn {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, in characters
};

// Line and column of the `char_position`-th character (1-based) of UTF-8
// `text`. Characters, not bytes, because that is what the server counts in a
// UTF-8 database. A position past the end maps to just after the last
// character.
LineColumn PositionToLineColumn(std::string_view text, int char_position);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_TEXT_POSITION_H_
