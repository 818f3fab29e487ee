// The values of user-service's event feed that its layers hand each other:
// a position in the feed and a stored event. Plain structs without
// behaviour, as post-service's post_records.h: the feed's logic
// (user_events.h) turns them into and from protos and page tokens, the
// store (user_event_store.h) into and from rows.
#ifndef MICROBLOG_USER_SERVICE_FEED_USER_EVENT_RECORDS_H_
#define MICROBLOG_USER_SERVICE_FEED_USER_EVENT_RECORDS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace microblog {
namespace user {

// A place in the feed: the last event a reader has seen.
struct FeedPosition {
  int64_t xid = 0;  // the event's transaction (xid8, epoch-extended)
  int64_t id = 0;   // the event's id
};

// Kinds of events, as stored in user_events.kind.
inline constexpr char kUserDeletedKind[] = "user.deleted";
// A password change; payload {"credentials_version": N}, the new version.
inline constexpr char kCredentialsChangedKind[] = "user.credentials_changed";

// One row of user_events.
struct UserEventRecord {
  FeedPosition position;
  std::string kind;  // e.g. kUserDeletedKind
  int64_t user_id = 0;
  int64_t occur_micros = 0;         // occurred_at, microseconds since the Unix epoch
  int64_t credentials_version = 0;  // kCredentialsChangedKind's payload; else 0
};

// What one read of the feed found.
struct FeedPage {
  std::vector<UserEventRecord> events;  // in feed order
  // Events after the position have committed but are not shown yet: a
  // transaction older than them is still running (they come once it ends,
  // without any notification of their own).
  bool held_back = false;
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_FEED_USER_EVENT_RECORDS_H_
