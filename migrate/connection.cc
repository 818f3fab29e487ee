#include "migrate/connection.h"

#include "migrate/errors.h"

namespace microblog {
namespace migrate {
namespace internal {

CapturingPolicy::handle CapturingPolicy::do_startconnect(handle orig) {
  handle_ = pqxx::connect_direct::do_startconnect(orig);
  return handle_;
}

CapturingPolicy::handle CapturingPolicy::do_dropconnect(handle orig) noexcept {
  handle_ = pqxx::connect_direct::do_dropconnect(orig);
  return handle_;
}

CapturingPolicy::handle CapturingPolicy::do_disconnect(handle orig) noexcept {
  handle_ = pqxx::connect_direct::do_disconnect(orig);
  return handle_;
}

}  // namespace internal

namespace {

std::string TrimNewlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Connection::Connection(const DatabaseUrl& url)
    : internal::PolicyHolder(url.url()), pqxx::connection_base(policy) {
  try {
    init();
  } catch (const pqxx::failure& e) {
    throw MigrateError(ExitCode::kUnreachable,
                       "cannot connect to the database in " + url.source() + " (" + url.redacted() +
                           ") at " + url.Endpoint() + ":\n  " + url.Redact(TrimNewlines(e.what())) +
                           "\n  Check that PostgreSQL is running and reachable there and that the "
                           "URL, user and password are right.");
  }
}

Connection::~Connection() noexcept { close(); }

}  // namespace migrate
}  // namespace microblog
