#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/room/room.hpp"

// What a room change is, as the committer judges it (pure functions of rooms and effects): must
// it be committed, did it move nothing but the playback position, and how the effects of several
// inputs make one commit.
namespace tandem::engine::redis {

// The part of a room that a frame may change without broadcasting or auditing (the controller's
// POSITION_UPDATE, a counted READY), so that a frame that changed only bookkeeping (last_seen,
// last_activity) is not committed. Members, host, URL, guest control and seq change only with a
// broadcast or an audit record, which is committed anyway.
struct Digest {
  double current_time;
  bool is_playing;
  room::Millis position_at;
  std::optional<room::Millis> host_grace;
  std::uint64_t gate_id;
  std::size_t gate_ready;
  std::size_t gate_expected;
  bool exists;
  bool archived;
  bool operator==(const Digest&) const = default;
};

Digest digest(const room::RoomState& s);

// Nothing of the playback moved from `before` to `after` but the position.
bool only_position_moved(const Digest& before, const Digest& after);

// Effects that are committed whatever the input: a sequenced frame, an audit record, the end.
bool sequences_or_audits(const room::Effects& fx);

// Inputs that may change which nodes have members in the room.
bool may_change_members(const room::Input& input);

bool seats(const room::RoomState& s, const room::ConnId& conn);

// Adds what a later input did to what an earlier one did, as one commit carries both (in order).
void append_effects(room::Effects& fx, room::Effects&& more);

// The input as a connection leaving for good (not a JOIN switching rooms), or nullptr.
const room::DisconnectInput* departure(const room::Input& input);

// The input takes its connection out of the room: a LEAVE, a disconnect, a JOIN's switch.
bool departs(const room::Input& input);

// What the input is, as the label of tandem_cluster_commits_total: a client frame's type (a
// type the protocol does not define: "other"), or JOIN, disconnect, tick, node_lost, seen.
std::string_view input_label(const room::Input& input);

}  // namespace tandem::engine::redis
