#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/redis/envelope.hpp"
#include "core/room/room.hpp"

namespace tandem::engine::redis {

// One audit record as it goes into the audit stream: XADD field/value pairs
// r room, t type, u user, q seq, a at (epoch ms), d detail JSON, n node, i uid.
// `uid` is unique cluster-wide ("<node>-<n>") and becomes room_events.event_uid, so that the
// record is written at most once however often it is copied or re-queued.
struct AuditEntry {
  std::string uid;
  std::vector<std::string> fields;
};

// Everything Redis must do, atomically, for one change of one room (the commit script):
// compare-and-set the version, write the state, update the per-node room index and the
// deadline index, the /status summary, append the audit records, publish the envelope to every
// node concerned.
struct Commit {
  std::uint64_t expected_version = 0;
  std::string state;     // the new state JSON; empty: the room ended (a tombstone keeps the version)
                         // or the commit is an advance
  std::optional<Advance> advance;  // set: only seq and last activity moved (advance_script)
  std::string envelope;  // published as-is
  std::vector<std::string> target_nodes;   // nodes with members before or after, or with recipients
  std::vector<std::string> nodes_added;    // nodes that now have members here (index SADD)
  std::vector<std::string> nodes_removed;  // nodes that no longer have members here (index SREM)
  std::optional<room::Millis> deadline;    // room::next_deadline of the new state
  std::string status;                      // status_summary of the new state; empty when ended
  std::vector<AuditEntry> audit;
};

// The nodes of the members of `state`, sorted and unique.
std::vector<std::string> member_nodes(const room::RoomState& state);

// `after` is the state room::apply left, `nodes_before` member_nodes() of the state it started
// from, `effects` what it returned. `next_uid` makes audit uids.
Commit plan_commit(const room::RoomState& after, const std::vector<std::string>& nodes_before,
                   const room::Effects& effects, std::uint64_t expected_version, room::Millis now,
                   const std::string& node_id, const std::function<std::string()>& next_uid);

// A commit of a change that moved only `after.seq` and `after.last_activity` (see Advance): no
// state, no index, deadline, status or audit changes; the envelope goes to the members' nodes
// and the recipients'.
Commit plan_advance(const room::RoomState& after, const room::Effects& effects, std::uint64_t expected_version,
                    room::Millis now);

// A room as Redis stores it: the hash fields s (state JSON, "" when absent), q and a (seq and
// last activity of the advances committed since s was written, "" when none). nullopt when
// there is no state. Throws on an unreadable state.
std::optional<room::RoomState> stored_room(std::string_view s, std::string_view q, std::string_view a);

// The room as /status shows it, in a form that changes only when what /status shows changes:
// a playing room's position is kept as the wall-clock instant its video time 0 would have
// played, rounded to kStatusOriginRounding, so the host's POSITION_UPDATEs do not rewrite it.
// JSON: {"roomId","connectionCount","isPlaying","currentUrl","hostUserId","users","addrs",
// "ct" (paused: position), "o" (playing: origin epoch ms)}.
inline constexpr room::Millis kStatusOriginRounding = 100;
std::string status_summary(const room::RoomState& state);

// One room of the /status snapshot, rendered from a summary at `now`.
struct StatusEntry {
  std::string room_id;
  std::string json;                 // {"roomId","connectionCount","currentTime",…} (docs/protocol.md §10)
  std::vector<std::string> addrs;   // the members' client addresses (caller mode)
  std::size_t members = 0;
};
// Throws std::invalid_argument on a malformed summary.
StatusEntry render_status_entry(std::string_view summary, room::Millis now);

}  // namespace tandem::engine::redis
