#include "common/auth/token_verifier.h"

#include <chrono>
#include <optional>
#include <utility>

#include <gnutls/crypto.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/log.h"

namespace microblog {
namespace {

// SHA-256 of `token`, the cache's key: the cache holds no token.
std::string Digest(std::string_view token) {
  std::string digest(32, '\0');
  gnutls_hash_fast(GNUTLS_DIG_SHA256, token.data(), token.size(), digest.data());
  return digest;
}

Caller CallerOf(const TokenClaims& claims) {
  Caller caller;
  caller.user_id = claims.user_id;
  caller.credentials_version = claims.credentials_version;
  return caller;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const KeySet>> TokenVerifier::Load(const std::string& path,
                                                                  FileStamp* stamp) {
  absl::StatusOr<std::string> text = ReadStampedFile(path, "the key set file", stamp);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = KeySet::FromJwks(*text);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", keys.status().message()));
  }
  return keys;
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Open(std::string jwks_path,
                                                                   TokenSettings settings,
                                                                   Registry* metrics) {
  FileStamp stamp;
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = Load(jwks_path, &stamp);
  if (!keys.ok()) return keys.status();
  Log(LogLevel::kInfo, "access token keys loaded",
      {{"file", jwks_path}, {"kids", absl::StrJoin((*keys)->kids(), ",")}});
  return std::unique_ptr<TokenVerifier>(new TokenVerifier(std::move(jwks_path), std::move(settings),
                                                          *std::move(keys), stamp, metrics));
}

TokenVerifier::TokenVerifier(std::string jwks_path, TokenSettings settings,
                             std::shared_ptr<const KeySet> keys, FileStamp stamp, Registry* metrics)
    : jwks_path_(std::move(jwks_path)),
      settings_(std::move(settings)),
      metrics_([metrics] {
        Metrics m;
        if (metrics == nullptr) return m;
        CounterFamily& tokens = metrics->AddCounter(
            "microblog_access_tokens_total",
            "Access tokens presented, by outcome (refused: UNAUTHENTICATED).", {"outcome"});
        m.accepted = &tokens.WithLabels({"accepted"});
        m.refused = &tokens.WithLabels({"refused"});
        m.cache_hits = &metrics
                            ->AddCounter("microblog_access_token_cache_hits_total",
                                         "Accepted access tokens found already verified.", {})
                            .WithLabels({});
        CounterFamily& reloads = metrics->AddCounter(
            "microblog_jwks_reloads_total",
            "Reloads of the access token key set file after it changed, by outcome (error: the "
            "previous key set stays).",
            {"outcome"});
        m.reloads_ok = &reloads.WithLabels({"ok"});
        m.reloads_error = &reloads.WithLabels({"error"});
        return m;
      }()),
      keys_(std::move(keys)),
      stamp_(stamp) {
  reload_ = std::make_unique<PeriodicTask>("jwks-reload", std::chrono::seconds(1),
                                           [this] { ReloadIfChanged(); });
}

TokenVerifier::~TokenVerifier() { reload_.reset(); }

std::shared_ptr<const KeySet> TokenVerifier::keys() const {
  absl::MutexLock lock(&mu_);
  return keys_;
}

void TokenVerifier::ReloadIfChanged() {
  const std::optional<FileStamp> now = StampOf(jwks_path_);
  if (!now.has_value()) return;  // e.g. a ConfigMap swapping its link
  {
    absl::MutexLock lock(&mu_);
    if (*now == stamp_) return;
  }
  FileStamp read;
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = Load(jwks_path_, &read);
  absl::MutexLock lock(&mu_);
  stamp_ = read;  // a bad file is reported once, not every second
  if (!keys.ok()) {
    if (metrics_.reloads_error != nullptr) metrics_.reloads_error->Increment();
    Log(LogLevel::kError, "access token key set not reloaded; the previous one stays",
        {{"error", keys.status().message()}});
    return;
  }
  if (metrics_.reloads_ok != nullptr) metrics_.reloads_ok->Increment();
  Log(LogLevel::kInfo, "access token keys reloaded",
      {{"file", jwks_path_}, {"kids", absl::StrJoin((*keys)->kids(), ",")}});
  keys_ = *std::move(keys);
  cache_.clear();  // a key taken out stops verifying at once
}

absl::StatusOr<Caller> TokenVerifier::Authenticate(std::string_view token) const {
  const std::string digest = Digest(token);
  std::shared_ptr<const KeySet> keys;
  {
    absl::MutexLock lock(&mu_);
    const auto hit = cache_.find(digest);
    if (hit != cache_.end()) {
      if (hit->second.expires_at > UnixSeconds(Clock::now()) - settings_.leeway.count()) {
        if (metrics_.accepted != nullptr) metrics_.accepted->Increment();
        if (metrics_.cache_hits != nullptr) metrics_.cache_hits->Increment();
        return CallerOf(hit->second);
      }
      cache_.erase(hit);
    }
    keys = keys_;
  }
  std::string reason;
  absl::StatusOr<TokenClaims> claims = keys->Verify(token, settings_, Clock::now(), &reason);
  if (!claims.ok()) {
    if (metrics_.refused != nullptr) metrics_.refused->Increment();
    Log(LogLevel::kDebug, "access token refused", {{"reason", reason}});
    return claims.status();
  }
  if (metrics_.accepted != nullptr) metrics_.accepted->Increment();
  absl::MutexLock lock(&mu_);
  if (keys == keys_) {  // not verified by a key set reloaded meanwhile
    if (cache_.size() >= kCacheEntries) cache_.clear();
    cache_.emplace(digest, *claims);
  }
  return CallerOf(*claims);
}

}  // namespace microblog
