#include "migrate/sql_script.h"

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

}  // namespace

std::optional<ScriptError> RunScript(PGconn* conn, const std::string& script) {
  std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn, script.c_str()));
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

std::string ScriptError::Describe(const std::string& path, const std::string& script) const {
  std::string text = "  file: " + path;
  if (position > 0) {
    const LineColumn at = PositionToLineColumn(script, position);
    text += " line " + std::to_string(at.line) + ", column " + std::to_string(at.column) +
            " (" + path + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ")";
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
