#include "common/rpc/grpc_status.h"

#include <string>

#include <google/protobuf/any.pb.h>

#include "absl/strings/cord.h"
#include "common/base/log.h"
#include "common/base/status.h"
#include "google/rpc/status.pb.h"

namespace microblog {
namespace {

bool IsInternal(absl::StatusCode code) {
  return code == absl::StatusCode::kInternal || code == absl::StatusCode::kUnknown ||
         code == absl::StatusCode::kDataLoss;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  if (IsInternal(status.code())) {
    // The cause stays in our log; the client learns only that it failed.
    Log(LogLevel::kError, "internal error",
        {{"code", absl::StatusCodeToString(status.code())}, {"cause", status.message()}});
    return grpc::Status(code, "internal error");
  }
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(code));
  rpc_status.set_message(std::string(status.message()));
  status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& payload) {
    auto* any = rpc_status.add_details();
    any->set_type_url(std::string(type_url));
    any->set_value(std::string(payload));
  });
  if (rpc_status.details_size() == 0) return grpc::Status(code, std::string(status.message()));
  return grpc::Status(code, std::string(status.message()), rpc_status.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::optional<std::chrono::milliseconds> RetryDelayOf(const grpc::Status& status) {
  google::rpc::Status rpc_status;
  if (status.error_details().empty() || !rpc_status.ParseFromString(status.error_details())) {
    return std::nullopt;
  }
  // The details back as payloads (ToGrpcStatus's mapping, reversed), for
  // the one reader of RetryInfo.
  absl::Status with_details = FromGrpcStatus(status);
  for (const auto& any : rpc_status.details()) {
    with_details.SetPayload(any.type_url(), absl::Cord(any.value()));
  }
  return RetryDelayOf(with_details);
}

}  // namespace microblog
