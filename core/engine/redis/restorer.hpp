#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/engine/redis/context.hpp"
#include "core/store/pg_room_reader.hpp"

namespace tandem::engine::redis {

// Rebuilds a room that Redis no longer holds from its last snapshot in PostgreSQL (Redis lost
// its data: a restart without persistence, a failover to an empty replica). The committer asks
// before a JOIN would create a room that has neither a state nor a tombstone in Redis.
//
// * The room comes back with its url, position, host (within rooms.host_grace), guest control,
//   PIN and READY gate as last copied (snapshots are copied on every audited change and at
//   least every few seconds), and its seq goes on after the highest one PostgreSQL holds for it
//   (snapshot or audit event), so a (room, seq) pair is never used twice by what PostgreSQL
//   saw.
// * Its members are removed as a lost node's (their connections are gone; USER_LEFT and the
//   host grace follow room::apply), and those removals are audited with the JOIN's commit.
// * PostgreSQL holds no live room of that id, or cannot answer (down, or the lookup queue full:
//   store::PgRoomReader's bounds): nullopt, and the JOIN creates the room anew. Counted in
//   tandem_cluster_room_lookups_total{result}, a room found once its fate is known (settle).
class RoomRestorer {
 public:
  struct Restored {
    room::RoomState state;
    std::vector<room::AuditRecord> audit;  // the members' removals, in seq order
  };

  // What became of a room restore() returned: `committed` (the JOIN committed it: the room is
  // rebuilt — counted as `restored` and logged), `superseded` (another change of the room was
  // committed first, typically another node's restore of it: the JOIN goes to that room), or
  // `dropped` (the JOIN was refused or its commit failed: nothing was written, the next JOIN
  // looks again).
  enum class Fate { committed, superseded, dropped };

  explicit RoomRestorer(Context& ctx);

  // The room as PostgreSQL last saw it, its members removed; counted only when PostgreSQL holds
  // no such room or cannot say (see the class comment). Every room returned must be settled.
  awaitable<std::optional<Restored>> restore(const std::string& room_id, room::Millis now);
  void settle(const std::string& room_id, std::uint64_t seq, std::size_t departed, Fate fate);
  void stop() { reader_.stop(); }

 private:
  awaitable<store::RoomLookup> lookup(const std::string& room_id);

  Context& ctx_;
  store::PgRoomReader reader_;
};

}  // namespace tandem::engine::redis
