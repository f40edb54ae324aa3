#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/engine/engine.hpp"
#include "core/engine/journal.hpp"
#include "core/room/room.hpp"

namespace tandem::engine {

// How a room becomes the records the outside sees; the same in both engines.

// The audit events of `records`, stamped with `node_id`. `next_uid` makes their uids; when it
// is empty the uids are left empty (the journal assigns them).
std::vector<AuditEvent> audit_events(const std::vector<room::AuditRecord>& records, const std::string& node_id,
                                     const std::function<std::string()>& next_uid);

// The snapshot of `state` at `now`; `document` is room::to_json(state) already serialized, or
// empty for a room that ended (the snapshot then holds the archived state without members).
// `ended`: the room was archived.
RoomSnapshot room_snapshot(const room::RoomState& state, bool ended, const std::string& document, room::Millis now);

// The room's /status row at `now` (docs/protocol.md §10: roomId, connectionCount, currentTime,
// isPlaying, currentUrl, hostUserId, users) and its members' addresses.
RoomSummary status_row(const room::RoomState& state, room::Millis now);

}  // namespace tandem::engine
