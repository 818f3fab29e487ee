// The gRPC face of user-service: microblog.user.v1.UserService on gRPC's
// callback API. Every call goes through a CallForwarder
// (common/rpc/call_forwarder.h: a request with a NUL byte in a string field
// is INVALID_ARGUMENT at once, a bad access token UNAUTHENTICATED, the
// deadline is capped at `max_deadline`).
// Handlers return at once; the work runs elsewhere and finishes the call
// (common/rpc/unary_call.h):
//  - GetUser and LookupUser: UserAccounts' batches (one query for many
//    calls);
//  - CreateUser, VerifyPassword and UpdateUser with a new password (each
//    hashes one with Argon2id) on `hashing_queue`, so that a burst of
//    logins never occupies the threads the quick queries need. That queue
//    is fair across callers (common/rpc/caller_key.h) and refuses at once,
//    with RESOURCE_EXHAUSTED and RetryInfo, what could not finish before
//    its deadline or would exceed its caps (common/exec/fair_work_queue.h); a
//    VerifyPassword the login throttle refuses (login_throttle.h) is
//    answered before it queues;
//  - ListUserEvents: UserEventFeed's long poll (feed/user_events.h);
//  - everything else (ListUsers, UpdateUser without a password,
//    DeleteUser, BatchGetUsers) on `db_workers`.
// What each RPC does is UserAccounts' business (user_accounts.h).
//
//   WorkerPool db_workers("db-worker", db_pool_size);
//   FairWorkQueue hashing_queue(std::move(hashing_options));  // a worker per hashing thread
//   UserServiceImpl service(accounts, feed, db_workers, hashing_queue, settings.max_deadline,
//                           *token_verifier);
//   RunServer(settings, "user-service", {{&service, ...}}, ...);
//
// Thread-safety: handlers run concurrently; the class holds no mutable state
// of its own.
#ifndef MICROBLOG_USER_SERVICE_USER_SERVICE_H_
#define MICROBLOG_USER_SERVICE_USER_SERVICE_H_

#include <chrono>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "common/base/clock.h"
#include "common/exec/fair_work_queue.h"
#include "common/exec/worker_pool.h"
#include "common/rpc/call_forwarder.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "user-service/feed/user_events.h"
#include "user-service/user_accounts.h"

namespace microblog {
namespace user {

class UserServiceImpl final : public microblog::user::v1::UserService::CallbackService {
 public:
  // Everything is borrowed and must outlive the service. `max_deadline`
  // caps the time any call may take, whatever the client's deadline;
  // `authenticator` checks the calls' access tokens.
  UserServiceImpl(UserAccounts& accounts, UserEventFeed& events, WorkerPool& db_workers,
                  FairWorkQueue& hashing_queue, std::chrono::milliseconds max_deadline,
                  CallAuthentication auth)
      : calls_(accounts, max_deadline, auth),
        event_calls_(events, max_deadline, auth),
        db_workers_(db_workers),
        hashing_queue_(hashing_queue) {}

  UserServiceImpl(const UserServiceImpl&) = delete;
  UserServiceImpl& operator=(const UserServiceImpl&) = delete;

  grpc::ServerUnaryReactor* CreateUser(grpc::CallbackServerContext* context,
                                       const microblog::user::v1::CreateUserRequest* request,
                                       microblog::user::v1::CreateUserResponse* response) override;
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const microblog::user::v1::GetUserRequest* request,
                                    microblog::user::v1::GetUserResponse* response) override;
  grpc::ServerUnaryReactor* LookupUser(grpc::CallbackServerContext* context,
                                       const microblog::user::v1::LookupUserRequest* request,
                                       microblog::user::v1::LookupUserResponse* response) override;
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
                                      const microblog::user::v1::ListUsersRequest* request,
                                      microblog::user::v1::ListUsersResponse* response) override;
  grpc::ServerUnaryReactor* UpdateUser(grpc::CallbackServerContext* context,
                                       const microblog::user::v1::UpdateUserRequest* request,
                                       microblog::user::v1::UpdateUserResponse* response) override;
  grpc::ServerUnaryReactor* DeleteUser(grpc::CallbackServerContext* context,
                                       const microblog::user::v1::DeleteUserRequest* request,
                                       microblog::user::v1::DeleteUserResponse* response) override;
  grpc::ServerUnaryReactor* BatchGetUsers(
      grpc::CallbackServerContext* context,
      const microblog::user::v1::BatchGetUsersRequest* request,
      microblog::user::v1::BatchGetUsersResponse* response) override;
  grpc::ServerUnaryReactor* VerifyPassword(
      grpc::CallbackServerContext* context,
      const microblog::user::v1::VerifyPasswordRequest* request,
      microblog::user::v1::VerifyPasswordResponse* response) override;
  grpc::ServerUnaryReactor* ListUserEvents(
      grpc::CallbackServerContext* context,
      const microblog::user::v1::ListUserEventsRequest* request,
      microblog::user::v1::ListUserEventsResponse* response) override;

 private:
  const CallForwarder<UserAccounts> calls_;
  const CallForwarder<UserEventFeed> event_calls_;
  WorkerPool& db_workers_;
  // Runs `method` on hashing_queue_ under the caller's key.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* RunHashing(grpc::CallbackServerContext* context,
                                       absl::Status (UserAccounts::*method)(const Request&,
                                                                            Clock::time_point,
                                                                            Response&),
                                       const Request* request, Response* response);
  // The same for a method that decides by its caller (UpdateUser).
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* RunHashing(grpc::CallbackServerContext* context,
                                       absl::Status (UserAccounts::*method)(const Request&,
                                                                            const Caller&,
                                                                            Clock::time_point,
                                                                            Response&),
                                       const Request* request, Response* response);

  FairWorkQueue& hashing_queue_;
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_USER_SERVICE_H_
