#include "common/rpc/authorization_policy.h"

#include <utility>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace microblog {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

absl::Status Invalid(std::string_view where, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("authorization policy: ", std::string(where), ": ", std::string(why)));
}

// The list of non-empty strings `fields[key]` (absent: empty).
absl::StatusOr<std::vector<std::string>> Strings(const Struct& object, const std::string& key,
                                                 const std::string& where) {
  std::vector<std::string> strings;
  const auto it = object.fields().find(key);
  if (it == object.fields().end()) return strings;
  if (!it->second.has_list_value()) return Invalid(where, key + " is not a list");
  for (const Value& value : it->second.list_value().values()) {
    if (!value.has_string_value() || value.string_value().empty()) {
      return Invalid(where, key + " holds something that is not a non-empty string");
    }
    strings.push_back(value.string_value());
  }
  return strings;
}

absl::Status OnlyFields(const Struct& object, const std::vector<const char*>& known,
                        const std::string& where) {
  for (const auto& [key, value] : object.fields()) {
    bool found = false;
    for (const char* k : known) found = found || key == k;
    if (!found) return Invalid(where, absl::StrCat("unknown or unsupported field \"", key, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AuthorizationPolicy::Rule>> Rules(const Struct& policy,
                                                             const std::string& key) {
  std::vector<AuthorizationPolicy::Rule> rules;
  const auto it = policy.fields().find(key);
  if (it == policy.fields().end()) return rules;
  if (!it->second.has_list_value()) return Invalid(key, "not a list");
  for (const Value& value : it->second.list_value().values()) {
    const std::string where = absl::StrCat(key, "[", rules.size(), "]");
    if (!value.has_struct_value()) return Invalid(where, "not an object");
    const Struct& rule = value.struct_value();
    if (absl::Status known = OnlyFields(rule, {"name", "source", "request"}, where); !known.ok()) {
      return known;
    }
    AuthorizationPolicy::Rule parsed;
    const auto name = rule.fields().find("name");
    if (name == rule.fields().end() || name->second.string_value().empty()) {
      return Invalid(where, "no name");
    }
    parsed.name = name->second.string_value();
    for (const auto& [part, fields] :
         {std::pair<std::string, std::vector<const char*>>{"source", {"principals"}},
          {"request", {"paths"}}}) {
      const auto found = rule.fields().find(part);
      if (found == rule.fields().end()) continue;
      const std::string part_where = absl::StrCat(where, ".", part);
      if (!found->second.has_struct_value()) return Invalid(part_where, "not an object");
      const Struct& object = found->second.struct_value();
      if (absl::Status known = OnlyFields(object, fields, part_where); !known.ok()) return known;
      const std::string list = part == "source" ? "principals" : "paths";
      absl::StatusOr<std::vector<std::string>> strings = Strings(object, list, part_where);
      if (!strings.ok()) return strings.status();
      (part == "source" ? parsed.principals : parsed.paths) = *std::move(strings);
    }
    rules.push_back(std::move(parsed));
  }
  return rules;
}

bool AnyMatches(const std::vector<std::string>& patterns, std::string_view value) {
  for (const std::string& pattern : patterns) {
    if (PolicyPatternMatches(pattern, value)) return true;
  }
  return false;
}

bool SourceMatches(const AuthorizationPolicy::Rule& rule,
                   const std::vector<std::string>& identities) {
  if (rule.principals.empty()) return true;
  for (const std::string& identity : identities) {
    if (AnyMatches(rule.principals, identity)) return true;
  }
  return false;
}

bool RuleMatches(const AuthorizationPolicy::Rule& rule, std::string_view path,
                 const std::vector<std::string>& identities) {
  return SourceMatches(rule, identities) && (rule.paths.empty() || AnyMatches(rule.paths, path));
}

}  // namespace

bool PolicyPatternMatches(std::string_view pattern, std::string_view value) {
  if (pattern == "*") return !value.empty();
  if (EndsWith(pattern, "*")) return StartsWith(value, pattern.substr(0, pattern.size() - 1));
  if (StartsWith(pattern, "*")) return EndsWith(value, pattern.substr(1));
  return pattern == value;
}

absl::StatusOr<AuthorizationPolicy> AuthorizationPolicy::Parse(std::string_view json) {
  Struct policy;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json.data(), json.size()), &policy)
           .ok()) {
    return Invalid("the file", "not a JSON object");
  }
  if (absl::Status known = OnlyFields(policy, {"name", "deny_rules", "allow_rules"}, "the policy");
      !known.ok()) {
    return known;
  }
  AuthorizationPolicy parsed;
  const auto name = policy.fields().find("name");
  if (name == policy.fields().end() || name->second.string_value().empty()) {
    return Invalid("the policy", "no name");
  }
  parsed.name_ = name->second.string_value();
  absl::StatusOr<std::vector<Rule>> deny = Rules(policy, "deny_rules");
  if (!deny.ok()) return deny.status();
  absl::StatusOr<std::vector<Rule>> allow = Rules(policy, "allow_rules");
  if (!allow.ok()) return allow.status();
  if (allow->empty()) return Invalid("allow_rules", "missing or empty: every call would be denied");
  parsed.deny_rules_ = *std::move(deny);
  parsed.allow_rules_ = *std::move(allow);
  return parsed;
}

AuthorizationPolicy::Decision AuthorizationPolicy::Evaluate(
    std::string_view path, const std::vector<std::string>& identities) const {
  for (const Rule& rule : deny_rules_) {
    if (RuleMatches(rule, path, identities)) return {false, rule.name};
  }
  for (const Rule& rule : allow_rules_) {
    if (RuleMatches(rule, path, identities)) return {true, rule.name};
  }
  return {false, ""};
}

bool AuthorizationPolicy::IsPrivileged(const std::vector<std::string>& identities) const {
  for (const Rule& rule : allow_rules_) {
    if (StartsWith(rule.name, "privileged") && !rule.principals.empty() &&
        SourceMatches(rule, identities)) {
      return true;
    }
  }
  return false;
}

}  // namespace microblog
