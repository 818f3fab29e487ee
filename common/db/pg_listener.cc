#include "common/db/pg_listener.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include <pqxx/connection>
#include <pqxx/notification>

#include "common/base/log.h"

namespace microblog {
namespace {

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& connection, const std::string& channel,
           const std::function<void()>& on_notify)
      : pqxx::notification_receiver(connection, channel), on_notify_(on_notify) {}

  void operator()(const std::string& /*payload*/, int /*backend_pid*/) override { on_notify_(); }

 private:
  const std::function<void()>& on_notify_;
};

constexpr std::chrono::milliseconds kFirstRetry{1000};
constexpr std::chrono::milliseconds kMaxRetry{30000};
// How often a quiet listener looks at the stop flag.
constexpr long kPollMicros = 200000;

}  // namespace

PgListener::PgListener(std::string url, std::string channel, std::function<void()> on_notify)
    : url_(std::move(url)),
      channel_(std::move(channel)),
      on_notify_(std::move(on_notify)),
      thread_([this] { Run(); }) {}

PgListener::~PgListener() {
  stop_.Stop();
  thread_.join();
}

void PgListener::ListenOnce(std::chrono::milliseconds& retry) {
  pqxx::connection connection(url_);
  Receiver receiver(connection, channel_, on_notify_);
  retry = kFirstRetry;
  // Registering the receiver ran LISTEN: from here on nothing is missed,
  // and anything sent before is read by the readers we wake now.
  Log(LogLevel::kInfo, "listening for notifications", {{"channel", channel_}});
  on_notify_();
  while (!stop_.stopped()) connection.await_notification(0, kPollMicros);
}

void PgListener::Run() {
  std::chrono::milliseconds retry = kFirstRetry;
  while (!stop_.stopped()) {
    try {
      ListenOnce(retry);
      return;
    } catch (const std::exception& e) {
      Log(LogLevel::kWarn, "notification listener lost its database connection; retrying",
          {{"channel", channel_},
           {"error", RedactUrl(e.what())},
           {"retry_ms", static_cast<int64_t>(retry.count())}});
    }
    if (!stop_.SleepFor(retry)) return;
    retry = std::min(retry * 2, kMaxRetry);
  }
}

}  // namespace microblog
