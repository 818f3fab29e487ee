// Listens to a PostgreSQL NOTIFY channel on a connection of its own and
// calls back on every notification: the wake-up of long polls (WaitList)
// when another transaction, on any replica, committed something worth
// reading.
//
//   WaitList waiters;
//   PgListener listener(url, "user_events", [&] { waiters.NotifyAll(); });
//
// NOTIFY is a wake-up, not a delivery: notifications sent while the
// connection is down are lost, so `on_notify` is also called after every
// (re)connection, and readers must read the data itself. While the database
// is unreachable the listener retries every second, then backs off to 30 s,
// logging each failure at warn; it never gives up.
//
// LISTEN belongs to a session: `url` must reach PostgreSQL directly (or
// through a session-mode pool), never a transaction-mode pooler such as
// PgBouncer with pool_mode=transaction, where the LISTEN would stay on
// whichever server connection ran it. user-service takes it from
// USER_DATABASE_LISTEN_URL then, or polls instead (docs/operations.md, "Behind
// PgBouncer").
//
// Thread-safety: `on_notify` runs on the listener's own thread and must not
// block for long. The destructor stops the thread (within ~200 ms).
#ifndef MICROBLOG_COMMON_DB_PG_LISTENER_H_
#define MICROBLOG_COMMON_DB_PG_LISTENER_H_

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/exec/stop_signal.h"

namespace microblog {

class PgListener {
 public:
  // Starts listening on `channel` (a plain identifier) of the database at
  // `url`.
  PgListener(std::string url, std::string channel, std::function<void()> on_notify);
  ~PgListener();

  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

 private:
  void Run();
  // Listens until stopped or the connection fails (throws); resets
  // `retry` once connected.
  void ListenOnce(std::chrono::milliseconds& retry);

  const std::string url_;
  const std::string channel_;
  const std::function<void()> on_notify_;
  StopSignal stop_;
  std::thread thread_;  // last: started once everything else is set
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_DB_PG_LISTENER_H_
