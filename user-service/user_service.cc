#include "user-service/user_service.h"

#include "common/server.h"
#include "common/unary_call.h"

namespace microblog {
namespace user {

namespace v1 = ::microblog::user::v1;

grpc::ServerUnaryReactor* UserServiceImpl::CreateUser(grpc::CallbackServerContext* context,
                                                      const v1::CreateUserRequest* request,
                                                      v1::CreateUserResponse* response) {
  return RespondOn(hashing_workers_, context,
                   [this, request, response, d = EffectiveDeadline(*context, max_deadline_)] {
                     return accounts_.CreateUser(*request, d, *response);
                   });
}

grpc::ServerUnaryReactor* UserServiceImpl::GetUser(grpc::CallbackServerContext* context,
                                                   const v1::GetUserRequest* request,
                                                   v1::GetUserResponse* response) {
  UnaryCall call = StartUnaryCall(context);
  accounts_.GetUser(*request, EffectiveDeadline(*context, max_deadline_), *response,
                    std::move(call.reply));
  return call.reactor;
}

grpc::ServerUnaryReactor* UserServiceImpl::LookupUser(grpc::CallbackServerContext* context,
                                                      const v1::LookupUserRequest* request,
                                                      v1::LookupUserResponse* response) {
  return RespondOn(db_workers_, context,
                   [this, request, response, d = EffectiveDeadline(*context, max_deadline_)] {
                     return accounts_.LookupUser(*request, d, *response);
                   });
}

grpc::ServerUnaryReactor* UserServiceImpl::ListUsers(grpc::CallbackServerContext* context,
                                                     const v1::ListUsersRequest* request,
                                                     v1::ListUsersResponse* response) {
  return RespondOn(db_workers_, context,
                   [this, request, response, d = EffectiveDeadline(*context, max_deadline_)] {
                     return accounts_.ListUsers(*request, d, *response);
                   });
}

grpc::ServerUnaryReactor* UserServiceImpl::UpdateUser(grpc::CallbackServerContext* context,
                                                      const v1::UpdateUserRequest* request,
                                                      v1::UpdateUserResponse* response) {
  WorkerPool& workers = UserAccounts::HashesPassword(*request) ? hashing_workers_ : db_workers_;
  return RespondOn(workers, context,
                   [this, request, response, d = EffectiveDeadline(*context, max_deadline_)] {
                     return accounts_.UpdateUser(*request, d, *response);
                   });
}

grpc::ServerUnaryReactor* UserServiceImpl::DeleteUser(grpc::CallbackServerContext* context,
                                                      const v1::DeleteUserRequest* request,
                                                      v1::DeleteUserResponse* /*response*/) {
  return RespondOn(db_workers_, context,
                   [this, request, d = EffectiveDeadline(*context, max_deadline_)] {
                     return accounts_.DeleteUser(*request, d);
                   });
}

grpc::ServerUnaryReactor* UserServiceImpl::BatchGetUsers(grpc::CallbackServerContext* context,
                                                         const v1::BatchGetUsersRequest* request,
                                                         v1::BatchGetUsersResponse* response) {
  return RespondOn(db_workers_, context,
                   [this, request, response, d = EffectiveDeadline(*context, max_deadline_)] {
                     return accounts_.BatchGetUsers(*request, d, *response);
                   });
}

grpc::ServerUnaryReactor* UserServiceImpl::VerifyPassword(grpc::CallbackServerContext* context,
                                                          const v1::VerifyPasswordRequest* request,
                                                          v1::VerifyPasswordResponse* response) {
  return RespondOn(hashing_workers_, context,
                   [this, request, response, d = EffectiveDeadline(*context, max_deadline_)] {
                     return accounts_.VerifyPassword(*request, d, *response);
                   });
}

}  // namespace user
}  // namespace microblog
