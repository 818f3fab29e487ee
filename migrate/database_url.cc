#include "migrate/database_url.h"

#include <map>
#include <memory>

#include <libpq-fe.h>

#include "common/base/redact.h"
#include "migrate/errors.h"

namespace microblog {
namespace migrate {
namespace {

constexpr char kMask[] = "***";

struct ConninfoDeleter {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string DescribeEndpoint(const std::map<std::string, std::string>& opts) {
  auto get = [&opts](const std::string& key) {
    auto it = opts.find(key);
    return it == opts.end() ? std::string() : it->second;
  };
  std::string host = get("host");
  if (host.empty()) host = get("hostaddr");
  std::string port = get("port").empty() ? "5432" : get("port");
  std::string where;
  if (host.empty()) {
    where = "the default socket directory, port " + port;
  } else if (host[0] == '/' || host[0] == '@') {
    where = "socket directory " + host + ", port " + port;
  } else {
    where = "host " + host + ", port " + port;
  }
  std::string user = get("user");
  std::string db = get("dbname");
  if (!db.empty()) where += ", database " + db;
  if (!user.empty()) where += ", user " + user;
  return where;
}

}  // namespace

std::string RedactUnparsedUrl(const std::string& url) { return microblog::RedactUrl(url); }

DatabaseUrl::DatabaseUrl(std::string source, std::string url)
    : source_(std::move(source)), url_(std::move(url)) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoDeleter> options(PQconninfoParse(url_.c_str(), &error));
  if (options == nullptr) {
    std::string why = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    throw MigrateError(ExitCode::kUsage,
                       source_ + " is not a valid PostgreSQL URL (" + RedactUnparsedUrl(url_) +
                           "): " + RedactUnparsedUrl(why) +
                           ". Expected e.g. postgresql://USER:PASSWORD@HOST:5432/DBNAME");
  }
  std::map<std::string, std::string> values;
  for (PQconninfoOption* opt = options.get(); opt->keyword != nullptr; ++opt) {
    if (opt->val != nullptr) values[opt->keyword] = opt->val;
  }
  password_ = values["password"];
  endpoint_ = DescribeEndpoint(values);
}

std::string DatabaseUrl::Redact(const std::string& text) const {
  // Pattern-based redaction covers the URL's own syntax; replacing the literal
  // password also covers messages that quote it some other way.
  return ReplaceAll(RedactUnparsedUrl(text), password_, kMask);
}

std::string ConninfoWithDatabase(const std::string& url, const std::string& database) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &error);
  if (parsed == nullptr) {
    if (error != nullptr) PQfreemem(error);
    throw MigrateError(ExitCode::kUsage, "invalid database URL " + RedactUnparsedUrl(url));
  }
  auto quote = [](const std::string& value) {
    std::string quoted = "'";
    for (char c : value) {
      if (c == '\'' || c == '\\') quoted += '\\';
      quoted += c;
    }
    return quoted + "'";
  };
  std::string conninfo;
  for (PQconninfoOption* option = parsed; option->keyword != nullptr; ++option) {
    const std::string keyword = option->keyword;
    std::string value;
    if (keyword == "dbname") {
      value = database;
    } else if (option->val != nullptr && option->val[0] != '\0') {
      value = option->val;
    } else {
      continue;
    }
    if (!conninfo.empty()) conninfo += ' ';
    conninfo += keyword + "=" + quote(value);
  }
  PQconninfoFree(parsed);
  return conninfo;
}

}  // namespace migrate
}  // namespace microblog
