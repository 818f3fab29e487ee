// The data the benchmark runs on, in one place: how seeded users and posts
// are named, the SQL that seeds them, and the few accounts VerifyPassword
// logs in with (created through the real CreateUser RPC so that their
// Argon2id hashes are the service's own).
//
// run.sh pipes `microblog-bench seed-sql` into psql; the smoke test runs the
// same SQL through PgCluster::Exec, so both see the same shapes of data:
//
//   users: id 1..N, username "user<id>", email "user<id>@example.com"
//   posts: id 1..P, user_id = 1 + (id * 7919) % N (every user gets P/N posts),
//          created one second apart, bodies 40-139 characters
//   verify accounts: "verify_<i>", "verify_<i>@example.com", kBenchPassword
#ifndef MICROBLOG_BENCH_DATASET_H_
#define MICROBLOG_BENCH_DATASET_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "microblog/user/v1/user_service.grpc.pb.h"

namespace microblog {
namespace bench {

// The password of every benchmark account.
inline constexpr char kBenchPassword[] = "bench-password-1";

// Names of seeded user `id` (1-based).
std::string SeededUsername(std::int64_t id);
std::string SeededEmail(std::int64_t id);
// Login (username) of verify account `index` (0-based).
std::string VerifyLogin(int index);

// SQL for the `users` table: `count` users as above, all with
// `password_hash`, then ANALYZE. Expects an empty table (ids start at 1).
std::string SeedUsersSql(std::int64_t count, const std::string& password_hash);
// SQL for the `posts` table: `count` posts of users 1..`user_count`, then
// ANALYZE. Expects an empty table.
std::string SeedPostsSql(std::int64_t count, std::int64_t user_count);

// An Argon2id hash of kBenchPassword made with libsodium's interactive
// limits, the ones user-service uses. INTERNAL if libsodium fails.
absl::StatusOr<std::string> HashBenchPassword();

// Creates verify accounts 0..count-1 through UserService.CreateUser. An
// account that already exists counts as created. Returns the first other
// error. Blocks; each call has `timeout`.
absl::Status CreateVerifyAccounts(microblog::user::v1::UserService::StubInterface& users, int count,
                                  std::chrono::milliseconds timeout);

}  // namespace bench
}  // namespace microblog

#endif  // MICROBLOG_BENCH_DATASET_H_
