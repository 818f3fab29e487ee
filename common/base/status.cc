#include "common/base/status.h"

#include <algorithm>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"

namespace microblog {
namespace {

constexpr char kTypeUrlPrefix[] = "type.googleapis.com/";

std::string TypeUrlOf(const google::protobuf::Message& message) {
  return absl::StrCat(kTypeUrlPrefix, message.GetDescriptor()->full_name());
}

void AttachDetail(absl::Status& status, const google::protobuf::Message& detail) {
  status.SetPayload(TypeUrlOf(detail), absl::Cord(detail.SerializeAsString()));
}

}  // namespace

absl::Status InvalidArgument(const std::vector<FieldViolation>& violations) {
  google::rpc::BadRequest bad_request;
  std::string message = "invalid argument: ";
  for (size_t i = 0; i < violations.size(); ++i) {
    auto* v = bad_request.add_field_violations();
    v->set_field(violations[i].field);
    v->set_description(violations[i].description);
    absl::StrAppend(&message, i == 0 ? "" : "; ", violations[i].field, ": ",
                    violations[i].description);
  }
  absl::Status status = absl::InvalidArgumentError(message);
  AttachDetail(status, bad_request);
  return status;
}

absl::Status NotFoundResource(std::string_view resource_type, std::string_view resource_name,
                              std::string_view message) {
  google::rpc::ResourceInfo info;
  info.set_resource_type(std::string(resource_type));
  info.set_resource_name(std::string(resource_name));
  info.set_description(std::string(message));
  absl::Status status = absl::NotFoundError(std::string(message));
  AttachDetail(status, info);
  return status;
}

absl::Status NotFoundResource(std::string_view resource_type, int64_t id) {
  const std::string name = absl::StrCat(id);
  return NotFoundResource(resource_type, name,
                          absl::StrCat(std::string(resource_type), " ", name, " does not exist"));
}

absl::Status ResourceExhaustedRetryAfter(std::string_view message,
                                         std::chrono::nanoseconds retry_delay) {
  const auto millis =
      std::max<int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(retry_delay).count());
  google::rpc::RetryInfo info;
  info.mutable_retry_delay()->set_seconds(millis / 1000);
  info.mutable_retry_delay()->set_nanos(static_cast<int32_t>(millis % 1000) * 1000000);
  absl::Status status = absl::ResourceExhaustedError(std::string(message));
  AttachDetail(status, info);
  return status;
}

std::optional<std::chrono::milliseconds> RetryDelayOf(const absl::Status& status) {
  auto payload = status.GetPayload(TypeUrlOf(google::rpc::RetryInfo::default_instance()));
  if (!payload.has_value()) return std::nullopt;
  google::rpc::RetryInfo info;
  if (!info.ParseFromString(std::string(*payload))) return std::nullopt;
  return std::chrono::milliseconds(info.retry_delay().seconds() * 1000 +
                                   info.retry_delay().nanos() / 1000000);
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(TypeUrlOf(google::rpc::BadRequest::default_instance()));
  if (!payload.has_value()) return out;
  google::rpc::BadRequest bad_request;
  if (!bad_request.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : bad_request.field_violations()) {
    out.push_back({v.field(), v.description()});
  }
  return out;
}

}  // namespace microblog
