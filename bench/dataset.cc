#include "bench/dataset.h"

#include <sodium.h>

#include <grpcpp/client_context.h>

namespace microblog {
namespace bench {

using microblog::user::v1::CreateUserRequest;
using microblog::user::v1::CreateUserResponse;

std::string SeededUsername(std::int64_t id) { return "user" + std::to_string(id); }
std::string SeededEmail(std::int64_t id) { return SeededUsername(id) + "@example.com"; }
std::string VerifyLogin(int index) { return "verify_" + std::to_string(index); }

std::string SeedUsersSql(std::int64_t count, const std::string& password_hash) {
  // The hash is ours (base64 and '$'), never user input, but quote it anyway.
  std::string quoted_hash = "'";
  for (char c : password_hash) {
    if (c == '\'') quoted_hash += '\'';
    quoted_hash += c;
  }
  quoted_hash += "'";
  // ORDER BY i: identity values follow insertion order, so user i gets id i.
  return "INSERT INTO users (username, email, password_hash, created_at)\n"
         "SELECT 'user' || i, 'user' || i || '@example.com', " +
         quoted_hash +
         ",\n       now() - i * interval '1 minute'\n"
         "FROM generate_series(1, " +
         std::to_string(count) +
         ") AS i ORDER BY i;\n"
         "ANALYZE users;\n";
}

std::string SeedPostsSql(std::int64_t count, std::int64_t user_count) {
  // 7919 is prime, so i -> i * 7919 mod N spreads posts evenly over users
  // while interleaving them in time, as real timelines are.
  return "INSERT INTO posts (user_id, body, created_at)\n"
         "SELECT 1 + (i * 7919) % " +
         std::to_string(user_count) +
         ",\n       left('post ' || i || ' ' || repeat(md5(i::text), 5), 40 + i % 100),\n"
         "       now() - (" +
         std::to_string(count) +
         " - i) * interval '1 second'\n"
         "FROM generate_series(1, " +
         std::to_string(count) +
         ") AS i ORDER BY i;\n"
         "ANALYZE posts;\n";
}

absl::StatusOr<std::string> HashBenchPassword() {
  if (sodium_init() < 0) return absl::InternalError("sodium_init failed");
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, kBenchPassword, sizeof(kBenchPassword) - 1,
                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return absl::InternalError("crypto_pwhash_str failed (out of memory?)");
  }
  return std::string(hash);
}

absl::Status CreateVerifyAccounts(microblog::user::v1::UserService::StubInterface& users, int count,
                                  std::chrono::milliseconds timeout) {
  for (int i = 0; i < count; ++i) {
    CreateUserRequest request;
    request.set_username(VerifyLogin(i));
    request.set_email(VerifyLogin(i) + "@example.com");
    request.set_password(kBenchPassword);
    CreateUserResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    const grpc::Status status = users.CreateUser(&context, request, &response);
    if (!status.ok() && status.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      // gRPC and Abseil number their codes alike.
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          "CreateUser " + request.username() + ": " + status.error_message());
    }
  }
  return absl::OkStatus();
}

}  // namespace bench
}  // namespace microblog
