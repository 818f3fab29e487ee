#include "user-service/user_service.h"

#include <string>

#include "common/rpc/caller_key.h"
#include "common/rpc/unary_call.h"

namespace microblog {
namespace user {

template <typename Request, typename Response>
grpc::ServerUnaryReactor* UserServiceImpl::RunHashing(
    grpc::CallbackServerContext* context,
    absl::Status (UserAccounts::*method)(const Request&, Clock::time_point, Response&),
    const Request* request, Response* response) {
  return calls_.RunQueued(
      hashing_queue_, CallerKeyOf(*context), context, request, [] { return absl::OkStatus(); },
      [&accounts = calls_.logic(), method, request, response](const Caller&, auto deadline) {
        return (accounts.*method)(*request, deadline, *response);
      });
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* UserServiceImpl::RunHashing(
    grpc::CallbackServerContext* context,
    absl::Status (UserAccounts::*method)(const Request&, const Caller&, Clock::time_point,
                                         Response&),
    const Request* request, Response* response) {
  return calls_.RunQueued(
      hashing_queue_, CallerKeyOf(*context), context, request, [] { return absl::OkStatus(); },
      [&accounts = calls_.logic(), method, request, response](const Caller& caller, auto deadline) {
        return (accounts.*method)(*request, caller, deadline, *response);
      });
}

grpc::ServerUnaryReactor* UserServiceImpl::CreateUser(grpc::CallbackServerContext* context,
                                                      const v1::CreateUserRequest* request,
                                                      v1::CreateUserResponse* response) {
  return RunHashing(context, &UserAccounts::CreateUser, request, response);
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
  if (UserAccounts::HashesPassword(*request)) {
    return RunHashing(context, &UserAccounts::UpdateUser, request, response);
  }
  return calls_.RunOn(db_workers_, context, &UserAccounts::UpdateUser, request, response);
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

grpc::ServerUnaryReactor* UserServiceImpl::VerifyPassword(grpc::CallbackServerContext* context,
                                                          const v1::VerifyPasswordRequest* request,
                                                          v1::VerifyPasswordResponse* response) {
  const std::string source = CallerKeyOf(*context);
  // A throttled login is answered now, without a place in the hashing
  // queue.
  return calls_.RunQueued(
      hashing_queue_, source, context, request,
      [&] { return calls_.logic().PrecheckVerifyPassword(*request, source); },
      [&accounts = calls_.logic(), request, response, source](const Caller&, auto deadline) {
        return accounts.VerifyPassword(*request, source, deadline, *response);
      });
}

grpc::ServerUnaryReactor* UserServiceImpl::ListUserEvents(grpc::CallbackServerContext* context,
                                                          const v1::ListUserEventsRequest* request,
                                                          v1::ListUserEventsResponse* response) {
  return event_calls_.Forward(context, &UserEventFeed::ListUserEvents, request, response);
}

}  // namespace user
}  // namespace microblog
