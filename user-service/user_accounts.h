// What user-service does, apart from gRPC: the logic of every RPC of
// microblog.user.v1.UserService in absl::Status terms. Each method
// validates its request completely before touching the database (all bad
// fields reported at once, as google.rpc.BadRequest), then works through a
// UserStore and a PasswordHasher. The status codes of each RPC are the
// contract written in proto/microblog/user/v1/user_service.proto; the gRPC
// edge (user_service.h) maps them with ToGrpcStatus().
//
//   ReadRouter router(pool, std::move(read_options));
//   PostgresUserStore store(router);
//   PasswordHasher hasher(/*threads=*/2);
//   WorkerPool db_workers("db-worker", pool_size);
//   UserAccounts accounts(store, hasher, db_workers, *signer, &metrics);
//   accounts.LookupUser(request, caller, deadline, response,
//                       [](const absl::Status& status) { ... });  // later, once
//   absl::Status listed = accounts.ListUsers(list_request, caller, deadline, list_response);
//
// Who may do what (common/base/caller.h): `caller` is who the edge proved
// the call comes from. UpdateUser and DeleteUser need the account's own
// token (or a privileged caller): UNAUTHENTICATED without one,
// PERMISSION_DENIED with another account's, checked after validation and
// before any hash or query. A token is current only while its `ver` equals
// the account's credentials version: the store's update and delete apply
// only then, and the reads compare it when they return the caller's own
// account; a stale token is UNAUTHENTICATED ("access token revoked"). Reads
// fill the e-mail address only for the account itself and privileged
// callers. VerifyPassword issues the access token (`tokens`).
//
// GetUser and LookupUser answer through a callback (a Reply, called exactly
// once): the calls that arrive together are loaded together, one query per
// batch (common/exec/batcher.h, on `db_workers`), because they are the
// hottest calls of the system. Every other method blocks until its work is
// done: run them on a WorkerPool (the edge runs the ones that hash a
// password on its FairWorkQueue, user_service.h).
//
// Where each RPC reads (common/base/read_from.h): GetUser, LookupUser and
// ListUsers on a read replica when one is usable and has replayed the
// request's consistency_token, else on the primary; BatchGetUsers (the
// author check and reconciliation of post-service), VerifyPassword (a
// changed password or a deleted account must stop working at once) and
// every write on the primary. Writes answer the consistency token of
// UserStore::WriteToken().
//
// Thread-safety: all methods may run concurrently. Not copyable.
#ifndef MICROBLOG_USER_SERVICE_USER_ACCOUNTS_H_
#define MICROBLOG_USER_SERVICE_USER_ACCOUNTS_H_

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/auth/access_token.h"
#include "common/base/caller.h"
#include "common/base/clock.h"
#include "common/base/read_from.h"
#include "common/exec/batched_reads.h"
#include "common/exec/batcher.h"
#include "common/exec/reply.h"
#include "common/exec/worker_pool.h"
#include "microblog/user/v1/user_service.pb.h"
#include "user-service/login_throttle.h"
#include "user-service/password_hasher.h"
#include "user-service/user_records.h"
#include "user-service/user_store.h"

namespace microblog {
namespace user {

class UserAccounts {
 public:
  // Everything is borrowed and must outlive the object. GetUser's batches
  // run on `db_workers`, which should have one thread per connection of the
  // store's pool.
  // `metrics`, if not null, gets the batch sizes of its loaders
  // (microblog_batch_size) and the login throttle's refusals, and must
  // outlive this object.
  UserAccounts(UserStore& store, PasswordHasher& hasher, WorkerPool& db_workers,
               const TokenSigner& tokens, Registry* metrics = nullptr);

  UserAccounts(const UserAccounts&) = delete;
  UserAccounts& operator=(const UserAccounts&) = delete;

  absl::Status CreateUser(const microblog::user::v1::CreateUserRequest& request,
                          Clock::time_point deadline,
                          microblog::user::v1::CreateUserResponse& response);
  // Fills `response` and then calls `done`, on this thread when the request
  // is invalid, on a worker thread otherwise. `response` must stay valid
  // until then.
  void GetUser(const microblog::user::v1::GetUserRequest& request, const Caller& caller,
               Clock::time_point deadline, microblog::user::v1::GetUserResponse& response,
               Reply done);
  // Fills `response` and then calls `done`, as GetUser does: lookups
  // arriving together share one query (UserStore::GetByLogins).
  void LookupUser(const microblog::user::v1::LookupUserRequest& request, const Caller& caller,
                  Clock::time_point deadline, microblog::user::v1::LookupUserResponse& response,
                  Reply done);
  absl::Status ListUsers(const microblog::user::v1::ListUsersRequest& request, const Caller& caller,
                         Clock::time_point deadline,
                         microblog::user::v1::ListUsersResponse& response);
  absl::Status UpdateUser(const microblog::user::v1::UpdateUserRequest& request,
                          const Caller& caller, Clock::time_point deadline,
                          microblog::user::v1::UpdateUserResponse& response);
  absl::Status DeleteUser(const microblog::user::v1::DeleteUserRequest& request,
                          const Caller& caller, Clock::time_point deadline,
                          microblog::user::v1::DeleteUserResponse& response);
  absl::Status BatchGetUsers(const microblog::user::v1::BatchGetUsersRequest& request,
                             const Caller& caller, Clock::time_point deadline,
                             microblog::user::v1::BatchGetUsersResponse& response);
  // On success the response carries an access token for the account.
  // `source` is the caller's key (common/rpc/caller_key.h): repeated failures
  // of one login from one source are throttled (login_throttle.h), with
  // RESOURCE_EXHAUSTED and a google.rpc.RetryInfo before anything is
  // queried or hashed.
  absl::Status VerifyPassword(const microblog::user::v1::VerifyPasswordRequest& request,
                              std::string_view source, Clock::time_point deadline,
                              microblog::user::v1::VerifyPasswordResponse& response);
  // What VerifyPassword would refuse before any work (a bad request, a
  // throttled login), without counting an attempt: the edge answers those
  // at once instead of queueing them for a hashing thread.
  absl::Status PrecheckVerifyPassword(const microblog::user::v1::VerifyPasswordRequest& request,
                                      std::string_view source);

  // Whether the RPC hashes a password (tens of milliseconds of CPU): the
  // edge runs those on their own workers, away from the quick queries.
  static bool HashesPassword(const microblog::user::v1::UpdateUserRequest& request);

 private:
  UserStore& store_;
  PasswordHasher& hasher_;
  const TokenSigner& tokens_;
  LoginThrottle throttle_;
  // Last: its destructor waits for the batches in flight.
  BatchedReadsById<UserRecord> reads_;          // GetUser, through UserStore::GetByIds
  Batcher<Routed<Login>, UserRecord> lookups_;  // LookupUser, through UserStore::GetByLogins
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_USER_ACCOUNTS_H_
