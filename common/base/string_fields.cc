#include "common/base/string_fields.h"

#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"

namespace microblog {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr char kNulDescription[] = "must not contain a NUL byte (U+0000)";

bool HasNul(const std::string& value) { return value.find('\0') != std::string::npos; }

void Collect(const Message& message, const std::string& prefix,
             std::vector<FieldViolation>& violations) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);  // only the fields that are set
  for (const FieldDescriptor* field : fields) {
    const std::string path = absl::StrCat(prefix, field->name());
    const bool is_string = field->type() == FieldDescriptor::TYPE_STRING;
    const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (!is_string && !is_message) continue;
    if (!field->is_repeated()) {
      if (is_string) {
        std::string scratch;
        if (HasNul(reflection->GetStringReference(message, field, &scratch))) {
          violations.push_back({path, kNulDescription});
        }
      } else {
        Collect(reflection->GetMessage(message, field), path + ".", violations);
      }
      continue;
    }
    const int size = reflection->FieldSize(message, field);
    for (int i = 0; i < size; ++i) {
      const std::string element = absl::StrCat(path, "[", i, "]");
      if (is_string) {
        std::string scratch;
        if (HasNul(reflection->GetRepeatedStringReference(message, field, i, &scratch))) {
          violations.push_back({element, kNulDescription});
        }
      } else {
        Collect(reflection->GetRepeatedMessage(message, field, i), element + ".", violations);
      }
    }
  }
}

}  // namespace

absl::Status RejectNulBytes(const Message& message) {
  std::vector<FieldViolation> violations;
  Collect(message, "", violations);
  if (violations.empty()) return absl::OkStatus();
  return InvalidArgument(violations);
}

}  // namespace microblog
