// `user-service backfill-identity-keys`: fills the stored comparison forms
// of the accounts written before they existed (migrations/user/0005:
// username_canonical, username_skeleton, email_canonical, NULL in those
// rows), and reports the rows it cannot fill, for an operator (docs/identities.md,
// "Accounts that collide"). The forms are identity_forms.h's, from
// common/text's PrepareUsername and EmailComparisonKey.
//
//   user-service backfill-identity-keys [--batch-size=N] [--check]
//       [--user-database-url=URL]          (or USER_DATABASE_URL)
//
//   if (auto command = TakeBackfillCommand(argc, argv)) {
//     ... the database URL from the rest of argv and the environment ...
//     return RunIdentityBackfill(url, **command, std::cout, std::cerr);
//   }
//
// The backfill reads the rows with a NULL form in id order, --batch-size
// (default 500) at a time (keyset: id > the last one read), and fills each
// batch with one UPDATE, its own transaction (an autocommit statement).
// Only NULL forms are written, and only while the row still holds the
// username and email they were computed from (a concurrent UpdateUser
// writes its own). A username or email the profile refuses keeps its NULL
// form, and the row is reported with the profile's reason. When a batch's
// UPDATE hits one of the unique indexes of migrations/user/0006 (an older
// account, or an earlier one in the batch, holds that form), the batch is
// redone row by row, each row its own statement: the forms of the field
// that collides (the username's two, or the email's) stay NULL and the row
// is reported, naming the account that holds the form when one query finds
// it. Since rows go in id order, the older account keeps its claim (unless
// a newer one, written by this release with its forms, got there first:
// the report names it). Nothing is ever deleted or merged; such a row is
// still served, through lower(username) / lower(email) as before.
//
// Idempotent and resumable: a row once filled is no longer read, so a run
// after a crash goes on where the last committed batch ended; a reported
// row is read, and reported, again on every run until an operator changes
// it. A row committed behind the scan (a smaller id committed late) waits
// for the next run; --check finds it.
//
// With --check nothing is written: the rows that still have a NULL form are
// listed and counted (the gate of the release that makes the forms NOT
// NULL).
//
// Output, stdout, one line per reported row and field, then a summary:
//   conflict id=12 field=username reason="same username as account 7"
//   conflict id=15 field=username reason="<the profile's message>"
//   backfill-identity-keys: filled 3 rows, 2 rows need an operator (see ...)
// and with --check:
//   unfilled id=12 field=username
//   backfill-identity-keys --check: 1 rows without identity keys (see ...)
// Exit codes (RunIdentityBackfill): 0 the backfill ran (even with rows
// reported) / --check found no row; 1 --check found rows; 2 a database
// error (connection, missing columns: migrate first), one line on stderr.
// Usage errors are TakeBackfillCommand's (INVALID_ARGUMENT, exit 2 in
// main()).
//
// Thread-safety: RunIdentityBackfill uses one database connection of its
// own, on the calling thread. Runs concurrent with each other or with the
// service are safe: each statement writes only NULL forms, and the unique
// indexes decide between rows.
#ifndef MICROBLOG_USER_SERVICE_IDENTITY_BACKFILL_H_
#define MICROBLOG_USER_SERVICE_IDENTITY_BACKFILL_H_

#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"

namespace microblog {
namespace user {

// The subcommand's name: argv[1].
inline constexpr char kBackfillCommand[] = "backfill-identity-keys";

struct IdentityBackfillOptions {
  int batch_size = 500;  // --batch-size: rows per SELECT and UPDATE (1-10000)
  bool check = false;    // --check: count and list, write nothing
};

// When argv[1] is kBackfillCommand: removes it and the flags --batch-size=N
// (or --batch-size N) and --check from argv, argv[0] staying first and the
// rest (e.g. --user-database-url) in order for the configuration, and
// returns them; INVALID_ARGUMENT (a message for the terminal) when
// --batch-size is not an integer in [1, 10000]. nullopt, argv as it was,
// for any other command.
std::optional<absl::StatusOr<IdentityBackfillOptions>> TakeBackfillCommand(int& argc, char**& argv);

// Runs the backfill, or with options.check the check, on the users database
// at `database_url` (libpq URL; the user_service role suffices: SELECT and
// UPDATE on users). Reports and the summary go to `out`, a database error
// to `err`; returns the exit code (see above).
int RunIdentityBackfill(const std::string& database_url, const IdentityBackfillOptions& options,
                        std::ostream& out, std::ostream& err);

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_IDENTITY_BACKFILL_H_
