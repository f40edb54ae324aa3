#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/room/room.hpp"

namespace tandem::engine {

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
  room::Millis created_at = 0;
  room::Millis last_activity = 0;
  std::string document;  // room::to_json(state), serialized
};

struct ShortIdRecord {
  std::string short_id;
  std::string room_id;
  room::Millis created_at = 0;
  room::Millis expires_at = 0;
};

// Where the node writes what must outlive it: the audit trail, the latest state of every room,
// and short ids. Implementations write in batches off the I/O threads.
//
// Contract:
// * append() never blocks and never drops: records are kept in memory until written, retrying
//   while the database fails. backlog() counts records not yet committed; the node refuses
//   state changes while backlog() >= capacity() (ERROR server_busy) so memory stays bounded.
// * Records of one room are committed in the order appended.
// * put_room() keeps only the latest snapshot per room until it is written.
// * drain() blocks until everything appended before the call is committed, or the deadline
//   passes; returns true when nothing is left.
class Journal {
 public:
  virtual ~Journal() = default;

  virtual void append(const std::string& node_id, std::vector<room::AuditRecord> records) = 0;
  virtual void put_room(RoomSnapshot snapshot) = 0;
  virtual void put_short_id(ShortIdRecord record) = 0;

  virtual std::size_t backlog() const = 0;
  virtual std::size_t capacity() const = 0;
  virtual bool healthy() const = 0;  // the last write attempt succeeded

  // Rooms whose last snapshot was not archived, for restoring state at start.
  virtual std::vector<RoomSnapshot> load_unarchived_rooms() = 0;
  virtual std::vector<ShortIdRecord> load_short_ids(room::Millis now) = 0;

  virtual bool drain(std::chrono::milliseconds timeout) = 0;
};

}  // namespace tandem::engine
