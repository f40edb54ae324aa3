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
//   tandem_cluster_room_lookups_total{result}.
class RoomRestorer {
 public:
  struct Restored {
    room::RoomState state;
    std::vector<room::AuditRecord> audit;  // the members' removals, in seq order
  };

  explicit RoomRestorer(Context& ctx);

  awaitable<std::optional<Restored>> restore(const std::string& room_id, room::Millis now);
  void stop() { reader_.stop(); }

 private:
  awaitable<store::RoomLookup> lookup(const std::string& room_id);

  Context& ctx_;
  store::PgRoomReader reader_;
};

}  // namespace tandem::engine::redis
