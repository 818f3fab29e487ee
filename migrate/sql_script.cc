#include "migrate/sql_script.h"

#include <poll.h>

#include <cctype>
#include <memory>

#include "migrate/text_position.h"

namespace microblog {
namespace migrate {
namespace {

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};

std::string Field(const PGresult* result, int field) {
  const char* value = PQresultErrorField(result, field);
  return value != nullptr ? value : "";
}

std::string TrimTrailing(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::optional<ScriptError> Classify(PGconn* conn, const ResultPtr& result);

int CharCount(const std::string& text, size_t bytes) {
  int count = 0;
  for (size_t i = 0; i < bytes && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++count;
  }
  return count;
}

}  // namespace

std::optional<ScriptError> RunScript(PGconn* conn, const std::string& script) {
  ResultPtr result(PQexec(conn, script.c_str()));
  return Classify(conn, result);
}

std::optional<ScriptError> RunScript(PGconn* conn, const std::string& script,
                                     const std::function<void()>& while_running,
                                     std::chrono::milliseconds interval) {
  if (PQsendQuery(conn, script.c_str()) == 0) return Classify(conn, nullptr);
  auto next_call = std::chrono::steady_clock::now() + interval;
  while (true) {
    if (PQconsumeInput(conn) == 0) return Classify(conn, nullptr);
    if (PQisBusy(conn) == 0) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_call) {
      while_running();
      next_call = now + interval;
      continue;
    }
    pollfd fd{PQsocket(conn), POLLIN, 0};
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_call - now).count();
    poll(&fd, 1, static_cast<int>(wait) + 1);
  }
  // Like PQexec: the first error, else the last result.
  ResultPtr kept;
  while (true) {
    ResultPtr result(PQgetResult(conn));
    if (result == nullptr) break;
    const ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
      return Classify(conn, result);
    }
    const bool kept_error = kept != nullptr && PQresultStatus(kept.get()) != PGRES_COMMAND_OK &&
                            PQresultStatus(kept.get()) != PGRES_TUPLES_OK &&
                            PQresultStatus(kept.get()) != PGRES_EMPTY_QUERY;
    if (!kept_error) kept = std::move(result);
  }
  if (kept == nullptr) return std::nullopt;  // empty script
  return Classify(conn, kept);
}

bool IsNoTransaction(const std::string& script) {
  std::string first_line = script.substr(0, script.find('\n'));
  while (!first_line.empty() &&
         (first_line.back() == ' ' || first_line.back() == '\t' || first_line.back() == '\r')) {
    first_line.pop_back();
  }
  return first_line == kNoTransactionMarker;
}

namespace {

// The position after the comment starting at `i` (`-- ...` to the end of
// the line, `/* ... */`), or `i` when none starts there.
size_t SkipComment(const std::string& script, size_t i) {
  const size_t n = script.size();
  if (script.compare(i, 2, "--") == 0) {
    const size_t eol = script.find('\n', i);
    return eol == std::string::npos ? n : eol + 1;
  }
  if (script.compare(i, 2, "/*") == 0) {
    const size_t end = script.find("*/", i + 2);
    return end == std::string::npos ? n : end + 2;
  }
  return i;
}

}  // namespace

std::vector<Statement> SplitStatements(const std::string& script) {
  std::vector<Statement> statements;
  const size_t n = script.size();
  size_t i = 0;
  while (i < n) {
    // Skip blanks and comments before the statement.
    while (i < n) {
      if (std::isspace(static_cast<unsigned char>(script[i])) || script[i] == ';') {
        ++i;  // a blank, or the end of an empty statement
      } else if (const size_t after = SkipComment(script, i); after != i) {
        i = after;
      } else {
        break;
      }
    }
    if (i >= n) break;
    const size_t start = i;
    while (i < n && script[i] != ';') {
      const char c = script[i];
      if (c == '\'' || c == '"') {
        // E'...' strings may escape the quote with a backslash.
        const bool escapes =
            c == '\'' && i > start && (script[i - 1] == 'E' || script[i - 1] == 'e');
        ++i;
        while (i < n) {
          if (escapes && script[i] == '\\') {
            i += 2;
          } else if (script[i] == c) {
            if (i + 1 < n && script[i + 1] == c) {
              i += 2;  // doubled quote
            } else {
              ++i;
              break;
            }
          } else {
            ++i;
          }
        }
      } else if (const size_t after = SkipComment(script, i); after != i) {
        i = after;
      } else if (c == '$') {
        // $tag$ or $$ (not $1: a tag does not start with a digit).
        size_t j = i + 1;
        while (j < n && (std::isalnum(static_cast<unsigned char>(script[j])) || script[j] == '_')) {
          ++j;
        }
        const bool is_tag =
            j < n && script[j] == '$' &&
            (j == i + 1 || !std::isdigit(static_cast<unsigned char>(script[i + 1])));
        if (is_tag) {
          const std::string tag = script.substr(i, j - i + 1);
          const size_t end = script.find(tag, j + 1);
          i = end == std::string::npos ? n : end + tag.size();
        } else {
          ++i;
        }
      } else {
        ++i;
      }
    }
    Statement statement;
    statement.text = script.substr(start, i - start);
    statement.char_offset = CharCount(script, start);
    statement.number = static_cast<int>(statements.size()) + 1;
    statements.push_back(std::move(statement));
    if (i < n) ++i;  // the semicolon
  }
  return statements;
}

namespace {

std::optional<ScriptError> Classify(PGconn* conn, const ResultPtr& result) {
  ScriptError error;
  if (result == nullptr) {
    error.message = TrimTrailing(PQerrorMessage(conn));
    return error;
  }
  switch (PQresultStatus(result.get())) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      return std::nullopt;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
      // The session is now stuck in COPY mode; the caller's rollback (or the
      // connection closing) ends it.
      error.message = "COPY to or from the client is not supported in migration files";
      return error;
    default:
      break;
  }
  error.message = Field(result.get(), PG_DIAG_MESSAGE_PRIMARY);
  if (error.message.empty()) error.message = TrimTrailing(PQresultErrorMessage(result.get()));
  if (error.message.empty()) error.message = TrimTrailing(PQerrorMessage(conn));
  error.sqlstate = Field(result.get(), PG_DIAG_SQLSTATE);
  const std::string position = Field(result.get(), PG_DIAG_STATEMENT_POSITION);
  error.position = position.empty() ? 0 : std::stoi(position);
  error.detail = Field(result.get(), PG_DIAG_MESSAGE_DETAIL);
  error.hint = Field(result.get(), PG_DIAG_MESSAGE_HINT);
  error.context = Field(result.get(), PG_DIAG_CONTEXT);
  return error;
}

}  // namespace

std::string ScriptError::Describe(const std::string& path, const std::string& script) const {
  std::string text = "  file: " + path;
  if (position > 0) {
    const LineColumn at = PositionToLineColumn(script, position);
    text += " line " + std::to_string(at.line) + ", column " + std::to_string(at.column) + " (" +
            path + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ")";
  }
  text += "\n  error: " + message;
  if (!sqlstate.empty()) text += " (SQLSTATE " + sqlstate + ")";
  if (!detail.empty()) text += "\n  detail: " + detail;
  if (!hint.empty()) text += "\n  hint: " + hint;
  if (!context.empty()) text += "\n  context: " + context;
  return text;
}

}  // namespace migrate
}  // namespace microblog
