#include "common/rpc/authorization_enforcer.h"

#include <chrono>
#include <optional>
#include <utility>

#include <grpc/grpc_security_constants.h>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"

namespace microblog {
namespace {

constexpr std::chrono::milliseconds kReloadInterval{1000};

absl::StatusOr<AuthorizationPolicy> Load(const std::string& path, FileStamp* stamp) {
  absl::StatusOr<std::string> text = ReadStampedFile(path, "the authorization policy", stamp);
  if (!text.ok()) return text.status();
  absl::StatusOr<AuthorizationPolicy> policy = AuthorizationPolicy::Parse(*text);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", policy.status().message()));
  }
  return policy;
}

}  // namespace

std::vector<std::string> PeerIdentities(const grpc::AuthContext& auth) {
  std::vector<std::string> identities;
  if (!auth.IsPeerAuthenticated()) return identities;
  for (const char* property : {GRPC_PEER_URI_PROPERTY_NAME, GRPC_PEER_DNS_PROPERTY_NAME,
                               GRPC_X509_SUBJECT_PROPERTY_NAME}) {
    for (const grpc::string_ref& value : auth.FindPropertyValues(property)) {
      identities.emplace_back(value.data(), value.size());
    }
  }
  return identities;
}

absl::StatusOr<std::shared_ptr<AuthorizationEnforcer>> AuthorizationEnforcer::Watch(
    std::string policy_file, Registry* metrics) {
  FileStamp stamp;
  absl::StatusOr<AuthorizationPolicy> policy = Load(policy_file, &stamp);
  if (!policy.ok()) return policy.status();
  Log(LogLevel::kInfo, "authorization policy loaded",
      {{"file", policy_file}, {"policy", policy->name()}});
  return std::shared_ptr<AuthorizationEnforcer>(
      new AuthorizationEnforcer(std::move(policy_file), *std::move(policy), stamp, metrics));
}

AuthorizationEnforcer::AuthorizationEnforcer(std::string policy_file, AuthorizationPolicy policy,
                                             FileStamp stamp, Registry* metrics)
    : policy_file_(std::move(policy_file)),
      policy_(std::make_shared<const AuthorizationPolicy>(std::move(policy))),
      stamp_(stamp) {
  if (metrics != nullptr) {
    denied_ = &metrics
                   ->AddCounter("microblog_authorization_denied_total",
                                "Calls the authorization policy (AUTHZ_POLICY_FILE) refused with "
                                "PERMISSION_DENIED before any handler.",
                                {})
                   .WithLabels({});
    CounterFamily& reloads = metrics->AddCounter(
        "microblog_authorization_policy_reloads_total",
        "Changes of AUTHZ_POLICY_FILE read: ok, or error (the previous policy stays).",
        {"outcome"});
    reloads_ok_ = &reloads.WithLabels({"ok"});
    reloads_error_ = &reloads.WithLabels({"error"});
  }
  reload_ = std::make_unique<PeriodicTask>("authz-reload", kReloadInterval,
                                           [this] { ReloadIfChanged(); });
}

AuthorizationEnforcer::~AuthorizationEnforcer() { reload_.reset(); }

std::shared_ptr<const AuthorizationPolicy> AuthorizationEnforcer::policy() const {
  absl::MutexLock lock(&mu_);
  return policy_;
}

void AuthorizationEnforcer::ReloadIfChanged() {
  const std::optional<FileStamp> now = StampOf(policy_file_);
  if (!now.has_value()) return;  // e.g. a ConfigMap swapping its link
  {
    absl::MutexLock lock(&mu_);
    if (*now == stamp_) return;
  }
  FileStamp read;
  absl::StatusOr<AuthorizationPolicy> loaded = Load(policy_file_, &read);
  absl::MutexLock lock(&mu_);
  stamp_ = read;  // a bad file is reported once, not every second
  if (!loaded.ok()) {
    if (reloads_error_ != nullptr) reloads_error_->Increment();
    Log(LogLevel::kError, "authorization policy not reloaded; the previous one stays",
        {{"error", loaded.status().message()}});
    return;
  }
  if (reloads_ok_ != nullptr) reloads_ok_->Increment();
  Log(LogLevel::kInfo, "authorization policy reloaded",
      {{"file", policy_file_}, {"policy", loaded->name()}});
  policy_ = std::make_shared<const AuthorizationPolicy>(*std::move(loaded));
}

grpc::Status AuthorizationEnforcer::Process(const InputMetadata& auth_metadata,
                                            grpc::AuthContext* context,
                                            OutputMetadata* /*consumed_auth_metadata*/,
                                            OutputMetadata* /*response_metadata*/) {
  const auto path = auth_metadata.find(":path");
  const std::string method =
      path == auth_metadata.end() ? "" : std::string(path->second.data(), path->second.size());
  const std::vector<std::string> identities =
      context != nullptr ? PeerIdentities(*context) : std::vector<std::string>{};
  const AuthorizationPolicy::Decision decision = policy()->Evaluate(method, identities);
  if (decision.allowed) return grpc::Status::OK;
  if (denied_ != nullptr) denied_->Increment();
  const int64_t second = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  if (last_denial_log_second_.exchange(second) != second) {
    Log(LogLevel::kWarn, "call denied by the authorization policy",
        {{"method", method},
         {"principal", identities.empty() ? "" : identities.front()},
         {"rule", decision.rule.empty() ? "(no allow rule)" : decision.rule}});
  }
  return grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      absl::StrCat("the authorization policy does not allow ", method, " to this caller"));
}

bool AuthorizationEnforcer::IsPrivileged(const grpc::AuthContext& auth) const {
  return policy()->IsPrivileged(PeerIdentities(auth));
}

}  // namespace microblog
