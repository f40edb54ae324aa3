#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tandem::engine {

// What outlives a node, in plain records that the stores write (SQLite for the memory engine,
// PostgreSQL for the Redis engine's audit copier). No room logic and no SQL here.

// One audit event (docs/protocol.md §8).
struct AuditEvent {
  std::string uid;      // unique per event, fixed when it is made: written at most once
  std::string room_id;
  std::string type;     // ROOM_CREATED, USER_JOINED, …
  std::string user_id;  // empty when not about a user
  std::string detail;   // JSON object
  std::string node_id;
  std::int64_t seq = 0;
  std::int64_t at = 0;  // epoch ms
};

// A room as the operator's view (`tandem rooms`) and the restart path need it.
struct RoomSnapshot {
  std::string room_id;
  std::string state;  // live | idle | archived
  std::string host_user_id;
  std::string url;
  double current_time = 0;
  bool is_playing = false;
  bool guest_control = false;
  std::int64_t member_count = 0;
  std::uint64_t seq = 0;
  std::int64_t created_at = 0;
  std::int64_t last_activity = 0;
  std::string document;  // room::to_json(state), serialized
};

struct ShortIdRecord {
  std::string short_id;
  std::string room_id;
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
};

// Where the memory engine writes what must outlive the process: the audit trail, the latest
// state of every room, and short ids. Implementations write in batches off the I/O threads.
//
// Contract:
// * append() never blocks and never drops: events are kept in memory until written, retrying
//   while the database fails. backlog() counts events not yet committed; the engine refuses
//   state changes while backlog() >= capacity() (ERROR server_busy) so memory stays bounded.
// * Events of one room are committed in the order appended.
// * put_room() keeps only the latest snapshot per room until it is written.
// * drain() blocks until everything appended before the call is committed, or the deadline
//   passes; returns true when nothing is left.
class Journal {
 public:
  virtual ~Journal() = default;

  // `uid` of each event may be empty: the journal assigns one.
  virtual void append(std::vector<AuditEvent> events) = 0;
  virtual void put_room(RoomSnapshot snapshot) = 0;
  virtual void put_short_id(ShortIdRecord record) = 0;

  virtual std::size_t backlog() const = 0;
  virtual std::size_t capacity() const = 0;
  virtual bool healthy() const = 0;  // the last write attempt succeeded

  // Rooms whose last snapshot was not archived, for restoring state at start.
  virtual std::vector<RoomSnapshot> load_unarchived_rooms() = 0;
  virtual std::vector<ShortIdRecord> load_short_ids(std::int64_t now_ms) = 0;

  virtual bool drain(std::chrono::milliseconds timeout) = 0;
};

}  // namespace tandem::engine
