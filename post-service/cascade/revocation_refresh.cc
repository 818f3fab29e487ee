#include "post-service/cascade/revocation_refresh.h"

#include <algorithm>
#include <vector>

#include "common/base/log.h"

namespace microblog {
namespace post {

absl::Status RevocationRefresh::RunOnce() {
  const int64_t overlap = std::chrono::duration_cast<std::chrono::microseconds>(kOverlap).count();
  const int64_t since = newest_micros_ == 0 ? 0 : newest_micros_ - overlap;
  absl::StatusOr<std::vector<CredentialsRevocation>> rows =
      store_.RevocationsSince(since, Clock::now() + std::chrono::seconds(5));
  if (!rows.ok()) {
    Log(LogLevel::kWarn, "could not refresh the revoked access tokens",
        {{"error", rows.status().message()}});
    return rows.status();
  }
  revoked_.Add(*rows);
  for (const CredentialsRevocation& r : *rows) {
    newest_micros_ = std::max(newest_micros_, r.applied_micros);
  }
  return absl::OkStatus();
}

}  // namespace post
}  // namespace microblog
