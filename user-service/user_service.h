// The gRPC face of user-service: microblog.user.v1.UserService on the sync
// API. Each handler validates its request completely before touching the
// database (all bad fields reported at once, as google.rpc.BadRequest),
// then works through a UserStore and a PasswordHasher, and maps the
// absl::Status outcome with ToGrpcStatus() (INTERNAL details stay in the
// log). The status codes of each RPC are the contract written in
// proto/microblog/user/v1/user_service.proto.
//
//   PostgresUserStore store(pool);
//   PasswordHasher hasher(2);
//   UserServiceImpl service(store, hasher, settings.max_deadline);
//   RunServer(settings, "user-service", {&service}, ...);
//
// Thread-safety: handlers run concurrently; the class holds no mutable state
// of its own.
#ifndef MICROBLOG_USER_SERVICE_USER_SERVICE_H_
#define MICROBLOG_USER_SERVICE_USER_SERVICE_H_

#include <chrono>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "user-service/password_hasher.h"
#include "user-service/user_store.h"

namespace microblog {
namespace user {

class UserServiceImpl final : public microblog::user::v1::UserService::Service {
 public:
  // `store` and `hasher` are borrowed and must outlive the service.
  // `max_deadline` caps the time any call may take, whatever the client's
  // deadline.
  UserServiceImpl(UserStore& store, PasswordHasher& hasher, std::chrono::milliseconds max_deadline)
      : store_(store), hasher_(hasher), max_deadline_(max_deadline) {}

  UserServiceImpl(const UserServiceImpl&) = delete;
  UserServiceImpl& operator=(const UserServiceImpl&) = delete;

  grpc::Status CreateUser(grpc::ServerContext* context,
                          const microblog::user::v1::CreateUserRequest* request,
                          microblog::user::v1::CreateUserResponse* response) override;
  grpc::Status GetUser(grpc::ServerContext* context,
                       const microblog::user::v1::GetUserRequest* request,
                       microblog::user::v1::GetUserResponse* response) override;
  grpc::Status LookupUser(grpc::ServerContext* context,
                          const microblog::user::v1::LookupUserRequest* request,
                          microblog::user::v1::LookupUserResponse* response) override;
  grpc::Status ListUsers(grpc::ServerContext* context,
                         const microblog::user::v1::ListUsersRequest* request,
                         microblog::user::v1::ListUsersResponse* response) override;
  grpc::Status UpdateUser(grpc::ServerContext* context,
                          const microblog::user::v1::UpdateUserRequest* request,
                          microblog::user::v1::UpdateUserResponse* response) override;
  grpc::Status DeleteUser(grpc::ServerContext* context,
                          const microblog::user::v1::DeleteUserRequest* request,
                          microblog::user::v1::DeleteUserResponse* response) override;
  grpc::Status BatchGetUsers(grpc::ServerContext* context,
                             const microblog::user::v1::BatchGetUsersRequest* request,
                             microblog::user::v1::BatchGetUsersResponse* response) override;
  grpc::Status VerifyPassword(grpc::ServerContext* context,
                              const microblog::user::v1::VerifyPasswordRequest* request,
                              microblog::user::v1::VerifyPasswordResponse* response) override;

 private:
  using Clock = std::chrono::system_clock;

  // The logic of each RPC, in absl::Status terms.
  absl::Status DoCreateUser(const microblog::user::v1::CreateUserRequest& request,
                            Clock::time_point deadline,
                            microblog::user::v1::CreateUserResponse& response);
  absl::Status DoLookupUser(const microblog::user::v1::LookupUserRequest& request,
                            Clock::time_point deadline,
                            microblog::user::v1::LookupUserResponse& response);
  absl::Status DoListUsers(const microblog::user::v1::ListUsersRequest& request,
                           Clock::time_point deadline,
                           microblog::user::v1::ListUsersResponse& response);
  absl::Status DoUpdateUser(const microblog::user::v1::UpdateUserRequest& request,
                            Clock::time_point deadline,
                            microblog::user::v1::UpdateUserResponse& response);
  absl::Status DoBatchGetUsers(const microblog::user::v1::BatchGetUsersRequest& request,
                               Clock::time_point deadline,
                               microblog::user::v1::BatchGetUsersResponse& response);
  absl::Status DoVerifyPassword(const microblog::user::v1::VerifyPasswordRequest& request,
                                Clock::time_point deadline,
                                microblog::user::v1::VerifyPasswordResponse& response);

  Clock::time_point Deadline(const grpc::ServerContext& context) const;

  UserStore& store_;
  PasswordHasher& hasher_;
  const std::chrono::milliseconds max_deadline_;
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_USER_SERVICE_H_
