#include "support/rpc_details.h"

#include <gtest/gtest.h>

namespace microblog {
namespace test_support {

google::rpc::Status RichStatusOf(const grpc::Status& status) {
  google::rpc::Status rich;
  EXPECT_FALSE(status.error_details().empty()) << "no rich error details";
  EXPECT_TRUE(rich.ParseFromString(status.error_details()));
  return rich;
}

std::vector<std::pair<std::string, std::string>> FieldViolations(const grpc::Status& status) {
  std::vector<std::pair<std::string, std::string>> out;
  const google::rpc::Status rich = RichStatusOf(status);
  for (const auto& any : rich.details()) {
    google::rpc::BadRequest bad_request;
    if (!any.UnpackTo(&bad_request)) continue;
    for (const auto& violation : bad_request.field_violations()) {
      out.emplace_back(violation.field(), violation.description());
    }
  }
  return out;
}

std::vector<std::string> ViolatedFields(const grpc::Status& status) {
  std::vector<std::string> fields;
  for (const auto& [field, description] : FieldViolations(status)) fields.push_back(field);
  return fields;
}

std::optional<google::rpc::ResourceInfo> ResourceInfoOf(const grpc::Status& status) {
  const google::rpc::Status rich = RichStatusOf(status);
  for (const auto& any : rich.details()) {
    google::rpc::ResourceInfo info;
    if (any.UnpackTo(&info)) return info;
  }
  return std::nullopt;
}

std::string Repeat(const std::string& piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

}  // namespace test_support
}  // namespace microblog
