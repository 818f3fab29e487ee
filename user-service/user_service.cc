#include "user-service/user_service.h"

namespace microblog {
namespace user {

namespace v1 = ::microblog::user::v1;

grpc::ServerUnaryReactor* UserServiceImpl::CreateUser(grpc::CallbackServerContext* context,
                                                      const v1::CreateUserRequest* request,
                                                      v1::CreateUserResponse* response) {
  return calls_.RunOn(hashing_workers_, context, &UserAccounts::CreateUser, request, response);
}

grpc::ServerUnaryReactor* UserServiceImpl::GetUser(grpc::CallbackServerContext* context,
                                                   const v1::GetUserRequest* request,
                                                   v1::GetUserResponse* response) {
  return calls_.Forward(context, &UserAccounts::GetUser, request, response);
}

grpc::ServerUnaryReactor* UserServiceImpl::LookupUser(grpc::CallbackServerContext* context,
                                                      const v1::LookupUserRequest* request,
                                                      v1::LookupUserResponse* response) {
  return calls_.Forward(context, &UserAccounts::LookupUser, request, response);
}

grpc::ServerUnaryReactor* UserServiceImpl::ListUsers(grpc::CallbackServerContext* context,
                                                     const v1::ListUsersRequest* request,
                                                     v1::ListUsersResponse* response) {
  return calls_.RunOn(db_workers_, context, &UserAccounts::ListUsers, request, response);
}

grpc::ServerUnaryReactor* UserServiceImpl::UpdateUser(grpc::CallbackServerContext* context,
                                                      const v1::UpdateUserRequest* request,
                                                      v1::UpdateUserResponse* response) {
  WorkerPool& workers = UserAccounts::HashesPassword(*request) ? hashing_workers_ : db_workers_;
  return calls_.RunOn(workers, context, &UserAccounts::UpdateUser, request, response);
}

grpc::ServerUnaryReactor* UserServiceImpl::DeleteUser(grpc::CallbackServerContext* context,
                                                      const v1::DeleteUserRequest* request,
                                                      v1::DeleteUserResponse* response) {
  return calls_.RunOn(db_workers_, context, &UserAccounts::DeleteUser, request, response);
}

grpc::ServerUnaryReactor* UserServiceImpl::BatchGetUsers(grpc::CallbackServerContext* context,
                                                         const v1::BatchGetUsersRequest* request,
                                                         v1::BatchGetUsersResponse* response) {
  return calls_.RunOn(db_workers_, context, &UserAccounts::BatchGetUsers, request, response);
}

grpc::ServerUnaryReactor* UserServiceImpl::VerifyPassword(
    grpc::CallbackServerContext* context, const v1::VerifyPasswordRequest* request,
    v1::VerifyPasswordResponse* response) {
  return calls_.RunOn(hashing_workers_, context, &UserAccounts::VerifyPassword, request, response);
}

grpc::ServerUnaryReactor* UserServiceImpl::ListUserEvents(
    grpc::CallbackServerContext* context, const v1::ListUserEventsRequest* request,
    v1::ListUserEventsResponse* response) {
  return event_calls_.Forward(context, &UserEventFeed::ListUserEvents, request, response);
}

}  // namespace user
}  // namespace microblog
