#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/store/connection.hpp"

namespace tandem::store {

// What `tandem rooms` shows. Times are epoch milliseconds (UTC) whatever the backend, so both
// backends produce identical output.

struct RoomSummary {
  std::string id;
  std::string state;  // live | idle | archived
  std::int64_t member_count = 0;
  std::string host_user_id;  // "" when none
  std::int64_t created_at_ms = 0;
  std::int64_t last_activity_ms = 0;
};

struct Member {
  std::string user_id;
  std::optional<std::string> username;
};

struct RoomDetail {
  RoomSummary summary;
  std::string url;
  double position_s = 0;  // "current_time"
  bool playing = false;
  bool guest_control = false;
  std::int64_t seq = 0;
  std::optional<std::int64_t> archived_at_ms;
  std::optional<std::string> short_id;
  std::optional<std::int64_t> short_id_expires_ms;
  std::vector<Member> members;  // from the snapshot; v2.0 rooms: from the users table
};

struct Event {
  std::int64_t id = 0;
  std::string room_id;
  std::optional<std::int64_t> seq;  // empty for v2.0 events
  std::string type;
  std::optional<std::string> user_id;
  std::optional<std::string> node_id;
  std::string data;  // normalised JSON (keys sorted, compact); "null" when none
  std::int64_t at_ms = 0;
};

struct RoomFilter {
  std::optional<std::string> state;
  std::optional<std::int64_t> active_since_ms;  // last_activity >= this
  std::int64_t limit = 50;                      // 0 = no limit
};

struct EventFilter {
  std::string room_id;
  std::vector<std::string> types;  // any of these; empty = all
  std::optional<std::string> user_id;
  std::optional<std::int64_t> since_ms;  // created_at >= since
  std::optional<std::int64_t> until_ms;  // created_at < until
  std::optional<std::int64_t> after_id;  // id > after_id (--follow pages forward with it)
  // At most this many matches (0 = all): the newest ones, or with after_id the oldest ones
  // after it, so that following never skips a burst.
  std::int64_t limit = 100;
};

struct PurgeCounts {
  std::int64_t rooms = 0;
  std::int64_t events = 0;
  std::int64_t members = 0;  // v2.0 users rows
  std::int64_t short_ids = 0;
};

// Reads rooms and their audit events, and purges old archived rooms. Written once over
// Connection's dialect functions, so both backends answer alike. Construct after
// require_current_schema().
class RoomStore {
 public:
  explicit RoomStore(Connection& db) : db_(db) {}

  // Sorted by last activity, newest first, then by id.
  std::vector<RoomSummary> list(const RoomFilter& filter);

  std::optional<RoomDetail> find(const std::string& room_id);

  // True when any event names the room (events may exist for a room with no rooms row).
  bool has_events(const std::string& room_id);

  // Matching events in id (= write = seq) order.
  std::vector<Event> events(const EventFilter& filter);

  // Archived rooms whose archived_at (else last_activity) is before `cutoff_ms`, with their
  // events, users and short ids: counted, and deleted in one transaction unless `dry_run`.
  PurgeCounts purge(std::int64_t cutoff_ms, bool dry_run);

 private:
  Connection& db_;
};

}  // namespace tandem::store
