// The one rule that keeps a post from outliving its author when CreatePost
// races a user's deletion (the cascade of DeleteUser):
//
//  - a CreatePost batch (PostgresPostStore::InsertMany, through the SQL
//    function insert_posts() of migrations/post/0003) first takes a SHARED
//    transaction-level advisory lock on each of its authors, then, in a
//    later statement, reads user_tombstones for them and refuses the
//    tombstoned ones (NOT_FOUND), then inserts; (each statement of a
//    VOLATILE function gets its own snapshot, as a statement of a
//    transaction does);
//  - removing an author (PostgresDeletedAuthorsStore: the user-event
//    consumer and reconciliation) takes the EXCLUSIVE lock on it, then
//    inserts its tombstone and deletes its posts, and commits.
//
// Whichever locks first, the other waits for its commit, and READ
// COMMITTED gives each later statement a snapshot taken after that commit:
// an insert that locked first has committed its post before the removal's
// DELETE runs, which therefore sees and deletes it; an insert that locked
// second sees the tombstone and stores nothing. (The lock and the read
// must be separate statements: one statement's snapshot is taken before it
// waits.) Locks are taken in ascending user id order on both sides, and
// before any row lock, so two such transactions never deadlock.
//
// The key of user U's lock is U with bit 62 set (U # 2^62): outside the
// int4 range of hashtext() keys that `migrate` uses for its own lock. The
// same expression is written in insert_posts().
#ifndef MICROBLOG_POST_SERVICE_CASCADE_AUTHOR_LOCKS_H_
#define MICROBLOG_POST_SERVICE_CASCADE_AUTHOR_LOCKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace microblog {
namespace post {

// SQL taking the advisory locks of `user_ids` (ascending, distinct) with
// `function` (pg_advisory_xact_lock or pg_advisory_xact_lock_shared).
inline std::string LockAuthorsSql(const char* function, const std::vector<int64_t>& user_ids) {
  return absl::StrCat("SELECT ", function, "(id # 4611686018427387904) FROM unnest('{",
                      absl::StrJoin(user_ids, ","), "}'::bigint[]) AS id");
}

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_CASCADE_AUTHOR_LOCKS_H_
