#include "user-service/identity_backfill.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/connection>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/db/array_literal.h"
#include "common/db/named_statement.h"
#include "user-service/identity_forms.h"

namespace microblog {
namespace user {
namespace {

// --- Every SQL statement of the backfill. -------------------------------------
// Run unnamed (nothing prepared, nothing bound to the session): one run
// gains nothing from preparing, and it works through a pooler too.

// The rows with a NULL form after id $1, at most $2, in id order; which
// field's forms are missing (the username's two go together).
constexpr NamedStatement kUnfilledAfter{
    "identity_unfilled_after",
    "SELECT id, username, email, "
    "(username_canonical IS NULL OR username_skeleton IS NULL) AS username_missing, "
    "email_canonical IS NULL AS email_missing FROM users "
    "WHERE (username_canonical IS NULL OR username_skeleton IS NULL OR email_canonical IS NULL) "
    "AND id > $1 ORDER BY id LIMIT $2"};
// Parallel arrays: id, the username and email the forms were computed
// from, the forms (NULL: leave the column as it is). Writes only NULL
// columns, only while the row holds the same username and email, and only
// rows it adds a form to; `complete`: the row has all three now.
constexpr NamedStatement kFill{
    "identity_fill",
    "UPDATE users u SET username_canonical = coalesce(u.username_canonical, v.uc), "
    "username_skeleton = coalesce(u.username_skeleton, v.us), "
    "email_canonical = coalesce(u.email_canonical, v.ec) "
    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) "
    "AS v(id, username, email, uc, us, ec) "
    "WHERE u.id = v.id AND u.username = v.username AND u.email = v.email "
    "AND ((u.username_canonical IS NULL AND v.uc IS NOT NULL) "
    "OR (u.username_skeleton IS NULL AND v.us IS NOT NULL) "
    "OR (u.email_canonical IS NULL AND v.ec IS NOT NULL)) "
    "RETURNING u.id, (u.username_canonical IS NOT NULL AND u.username_skeleton IS NOT NULL "
    "AND u.email_canonical IS NOT NULL) AS complete"};
// The account holding form $1, other than $2 (NULL when none does).
constexpr NamedStatement kUsernameCanonicalHolder{
    "identity_username_canonical_holder",
    "SELECT min(id) AS id FROM users WHERE username_canonical = $1 AND id <> $2"};
constexpr NamedStatement kUsernameSkeletonHolder{
    "identity_username_skeleton_holder",
    "SELECT min(id) AS id FROM users WHERE username_skeleton = $1 AND id <> $2"};
constexpr NamedStatement kEmailCanonicalHolder{
    "identity_email_canonical_holder",
    "SELECT min(id) AS id FROM users WHERE email_canonical = $1 AND id <> $2"};

enum class Field { kUsername, kEmail };

const char* FieldName(Field field) { return field == Field::kUsername ? "username" : "email"; }

// A row to fill: what it held when read, and the forms to write (nullopt:
// none, the column stays as it is).
struct Fill {
  int64_t id = 0;
  std::string username;
  std::string email;
  std::optional<std::string> username_canonical;
  std::optional<std::string> username_skeleton;
  std::optional<std::string> email_canonical;

  bool Empty() const { return !username_canonical && !username_skeleton && !email_canonical; }
  void Drop(Field field) {
    if (field == Field::kUsername) {
      username_canonical.reset();
      username_skeleton.reset();
    } else {
      email_canonical.reset();
    }
  }
};

// One reported row and field.
struct Conflict {
  int64_t id = 0;
  Field field = Field::kUsername;
  std::string reason;
};

// The unique indexes of migrations/user/0006: the field each guards, the
// form of a Fill it holds, how to find the holder, how the report says it.
struct FormIndex {
  const char* name;
  Field field;
  std::optional<std::string> Fill::*form;
  const NamedStatement* holder;
  const char* reason;  // "<reason> account 7"
};
constexpr FormIndex kFormIndexes[] = {
    {"users_username_canonical_key", Field::kUsername, &Fill::username_canonical,
     &kUsernameCanonicalHolder, "same username as"},
    {"users_username_skeleton_key", Field::kUsername, &Fill::username_skeleton,
     &kUsernameSkeletonHolder, "username looks like that of"},
    {"users_email_canonical_key", Field::kEmail, &Fill::email_canonical, &kEmailCanonicalHolder,
     "same email as"},
};

// The index `e` reports (PostgreSQL names it in the message: duplicate key
// value violates unique constraint "users_email_canonical_key"), or null
// for another one.
const FormIndex* IndexOf(const pqxx::unique_violation& e) {
  const std::string message = e.what();
  for (const FormIndex& index : kFormIndexes) {
    if (absl::StrContains(message, absl::StrCat("\"", index.name, "\""))) return &index;
  }
  return nullptr;
}

// Runs kFill on `fills`: how many rows it completed. Throws what libpqxx
// throws (pqxx::unique_violation when a form is taken).
int64_t ExecFill(pqxx::connection& connection, const std::vector<Fill>& fills) {
  std::vector<int64_t> ids;
  std::vector<std::optional<std::string>> usernames, emails, username_canonicals,
      username_skeletons, email_canonicals;
  for (const Fill& fill : fills) {
    ids.push_back(fill.id);
    usernames.emplace_back(fill.username);
    emails.emplace_back(fill.email);
    username_canonicals.push_back(fill.username_canonical);
    username_skeletons.push_back(fill.username_skeleton);
    email_canonicals.push_back(fill.email_canonical);
  }
  // One statement, its own transaction: autocommit.
  pqxx::nontransaction tx(connection);
  const pqxx::result rows = Exec(
      tx, StatementMode::kUnnamed, kFill, BigintArray(ids), TextArray(usernames), TextArray(emails),
      TextArray(username_canonicals), TextArray(username_skeletons), TextArray(email_canonicals));
  int64_t completed = 0;
  for (const pqxx::row& row : rows) {
    if (row["complete"].as<bool>()) ++completed;
  }
  return completed;
}

// What the report says of `fill`'s form that `index` refused: the account
// that holds it, when one query finds it (it may have changed since).
std::string CollisionReason(pqxx::connection& connection, const FormIndex& index,
                            const Fill& fill) {
  pqxx::nontransaction tx(connection);
  const pqxx::result rows =
      Exec(tx, StatementMode::kUnnamed, *index.holder, *(fill.*index.form), fill.id);
  if (rows.empty() || rows[0]["id"].is_null()) {
    return absl::StrCat(index.reason, " another account");
  }
  return absl::StrCat(index.reason, " account ", rows[0]["id"].as<int64_t>());
}

// Fills one row, each attempt its own statement; a field whose form is
// taken keeps its NULL forms and goes into `conflicts`. Returns 1 when the
// row is complete, else 0.
int64_t FillAlone(pqxx::connection& connection, Fill fill, std::vector<Conflict>& conflicts) {
  while (!fill.Empty()) {
    try {
      return ExecFill(connection, {fill});
    } catch (const pqxx::unique_violation& e) {
      const FormIndex* index = IndexOf(e);
      // Another index (not ours to judge), or one whose form this row no
      // longer writes: a database error.
      if (index == nullptr || !(fill.*index->form)) throw;
      conflicts.push_back({fill.id, index->field, CollisionReason(connection, *index, fill)});
      fill.Drop(index->field);
    }
  }
  return 0;
}

// `text` as the inside of a double-quoted report value.
std::string Quoted(std::string_view text) {
  std::string quoted;
  for (const char c : text) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c == '\n' ? ' ' : c);
  }
  return quoted;
}

// The first line of a libpqxx message ("ERROR:  ..." and its context).
std::string FirstLine(std::string_view message) {
  const std::size_t end = message.find('\n');
  return std::string(message.substr(0, end));
}

constexpr char kSeeReadme[] = "see docs/identities.md, \"Accounts that collide\"";

struct Totals {
  int64_t filled = 0;    // rows this run completed
  int64_t reported = 0;  // rows reported (distinct), some partly filled
};

// The backfill; `totals` counts as it goes (for the error message).
void Backfill(pqxx::connection& connection, int batch_size, std::ostream& out, Totals& totals) {
  int64_t last_id = 0;
  for (;;) {
    pqxx::result rows;
    {
      pqxx::nontransaction tx(connection);
      rows = Exec(tx, StatementMode::kUnnamed, kUnfilledAfter, last_id, batch_size);
    }
    if (rows.empty()) return;
    std::vector<Fill> fills;
    std::vector<Conflict> conflicts;
    for (const pqxx::row& row : rows) {
      Fill fill;
      fill.id = row["id"].as<int64_t>();
      fill.username = row["username"].as<std::string>();
      fill.email = row["email"].as<std::string>();
      last_id = fill.id;
      if (row["username_missing"].as<bool>()) {
        absl::StatusOr<UsernameColumns> forms = UsernameColumnsFor(fill.username);
        if (forms.ok()) {
          fill.username_canonical = std::move(forms->canonical);
          fill.username_skeleton = std::move(forms->skeleton);
        } else {
          conflicts.push_back({fill.id, Field::kUsername, std::string(forms.status().message())});
        }
      }
      if (row["email_missing"].as<bool>()) {
        absl::StatusOr<std::string> key = EmailCanonicalFor(fill.email);
        if (key.ok()) {
          fill.email_canonical = std::move(*key);
        } else {
          conflicts.push_back({fill.id, Field::kEmail, std::string(key.status().message())});
        }
      }
      if (!fill.Empty()) fills.push_back(std::move(fill));
    }
    if (!fills.empty()) {
      try {
        totals.filled += ExecFill(connection, fills);
      } catch (const pqxx::unique_violation&) {
        // The statement failed whole: nothing of it was written. Row by
        // row, in id order, so that the older account wins.
        for (Fill& fill : fills) totals.filled += FillAlone(connection, std::move(fill), conflicts);
      }
    }
    std::stable_sort(conflicts.begin(), conflicts.end(),
                     [](const Conflict& a, const Conflict& b) { return a.id < b.id; });
    for (std::size_t i = 0; i < conflicts.size(); ++i) {
      const Conflict& conflict = conflicts[i];
      if (i == 0 || conflicts[i - 1].id != conflict.id) ++totals.reported;
      out << "conflict id=" << conflict.id << " field=" << FieldName(conflict.field) << " reason=\""
          << Quoted(conflict.reason) << "\"\n";
    }
    out.flush();
  }
}

// --check: lists the rows with a NULL form; how many.
int64_t Check(pqxx::connection& connection, int batch_size, std::ostream& out) {
  int64_t unfilled = 0;
  int64_t last_id = 0;
  for (;;) {
    pqxx::nontransaction tx(connection);
    const pqxx::result rows =
        Exec(tx, StatementMode::kUnnamed, kUnfilledAfter, last_id, batch_size);
    if (rows.empty()) return unfilled;
    for (const pqxx::row& row : rows) {
      last_id = row["id"].as<int64_t>();
      ++unfilled;
      if (row["username_missing"].as<bool>()) {
        out << "unfilled id=" << last_id << " field=username\n";
      }
      if (row["email_missing"].as<bool>()) out << "unfilled id=" << last_id << " field=email\n";
    }
  }
}

}  // namespace

std::optional<absl::StatusOr<IdentityBackfillOptions>> TakeBackfillCommand(int& argc,
                                                                           char**& argv) {
  if (argc < 2 || std::strcmp(argv[1], kBackfillCommand) != 0) return std::nullopt;
  IdentityBackfillOptions options;
  const std::string kBatchSize = "--batch-size";
  int kept = 1;  // argv[0] stays first
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--check") {
      options.check = true;
      continue;
    }
    std::optional<std::string> batch_size;
    if (absl::StartsWith(arg, absl::StrCat(kBatchSize, "="))) {
      batch_size = arg.substr(kBatchSize.size() + 1);
    } else if (arg == kBatchSize) {
      if (i + 1 >= argc) return absl::InvalidArgumentError("--batch-size needs a value");
      batch_size = argv[++i];
    }
    if (batch_size.has_value()) {
      int value = 0;
      if (!absl::SimpleAtoi(*batch_size, &value) || value < 1 || value > 10000) {
        return absl::InvalidArgumentError(
            absl::StrCat("--batch-size='", *batch_size, "' must be an integer from 1 to 10000"));
      }
      options.batch_size = value;
      continue;
    }
    argv[kept++] = argv[i];
  }
  argv[kept] = nullptr;
  argc = kept;
  return options;
}

int RunIdentityBackfill(const std::string& database_url, const IdentityBackfillOptions& options,
                        std::ostream& out, std::ostream& err) {
  const std::string program = absl::StrCat("user-service ", kBackfillCommand);
  Totals totals;
  try {
    pqxx::connection connection(database_url);
    if (options.check) {
      const int64_t unfilled = Check(connection, options.batch_size, out);
      out << kBackfillCommand << " --check: " << unfilled << " rows without identity keys ("
          << kSeeReadme << ")\n";
      return unfilled == 0 ? 0 : 1;
    }
    Backfill(connection, options.batch_size, out, totals);
  } catch (const std::exception& e) {
    out.flush();
    err << program << ": " << FirstLine(e.what());
    if (!options.check) {
      err << " (filled " << totals.filled << " rows before; run it again to go on)";
    }
    err << "\n";
    return 2;
  }
  out << kBackfillCommand << ": filled " << totals.filled << " rows, " << totals.reported
      << " rows need an operator (" << kSeeReadme << ")\n";
  return 0;
}

}  // namespace user
}  // namespace microblog
