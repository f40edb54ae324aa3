#pragma once

#include <string>
#include <string_view>

#include "core/room/context.hpp"

namespace tandem::room::detail {

// The steps apply() is made of, one file per concern. Each appends to ctx.fx in the order the
// protocol prescribes and keeps the room's invariants (host is a member or in its grace, the
// gate's expected set is a subset of the members, one seq per broadcast).

// join.cpp — §2.
void handle_join(Context& ctx, const JoinInput& input);

// room.cpp — §3 dispatch of a frame from a bound connection.
void handle_frame(Context& ctx, const FrameInput& input);

// membership.cpp — §2, §4, §5: members leaving, host election, archiving.
enum class Departure {
  leave,      // LEAVE: the leaver gets HOST_CHANGED and USER_LEFT, then close 1000; emptied → archived
  switching,  // socket moves to another room: the leaver gets nothing; emptied → archived
  reseat,     // socket re-JOINs this room under another userId: like switching, never archived
  disconnect, // socket gone: USER_LEFT to the others, host grace; emptied → empty_ttl
  node_lost,  // as disconnect, for every member of a dead node
};
void remove_member(Context& ctx, std::size_t index, Departure departure);
void handle_disconnect(Context& ctx, const DisconnectInput& input);
void handle_node_lost(Context& ctx, const NodeLostInput& input);
// The earliest-joined member becomes host; HOST_CHANGED to every member plus `extra`.
void elect_host(Context& ctx, std::string_view reason, std::string_view extra_recipient = {});
void archive(Context& ctx, std::string_view reason);

// The bound sender of a frame.
struct Sender {
  std::string user_id;
  ConnId conn;
  std::string node_id;  // of the sender's connection (FrameInput::node_id)
};

// §10 order of checks for a frame only some members may send: not_allowed unless `allowed`, then
// bad_field; the ERROR goes to the sender. True when the frame may be applied.
bool allowed_and_valid(Context& ctx, const Sender& sender, const proto::Frame& frame, bool allowed);

// playback.cpp — §3, §5. Order of checks (§10): not_allowed, then bad_field, then bad_url.
void handle_play_pause(Context& ctx, const Sender& sender, const proto::Frame& frame, const proto::PlayPause& body);
void handle_seek(Context& ctx, const Sender& sender, const proto::Frame& frame, const proto::Seek& body);
void handle_host_heartbeat(Context& ctx, const Sender& sender, const proto::Frame& frame,
                           const proto::HostHeartbeat& body);
void handle_position_update(Context& ctx, const Sender& sender, const proto::Frame& frame,
                            const proto::PositionUpdate& body);
void handle_url_change(Context& ctx, const Sender& sender, const proto::Frame& frame, const proto::UrlChange& body);
// `url` starts with one of rooms.allowed_url_prefixes (an empty list allows every URL).
bool url_allowed(const Settings& settings, std::string_view url);

// control.cpp — §3, §4: host-only and per-member settings.
void handle_toggle_guest_control(Context& ctx, const Sender& sender, const proto::Frame& frame,
                                 const proto::ToggleGuestControl& body);
void handle_transfer_host(Context& ctx, const Sender& sender, const proto::Frame& frame,
                          const proto::TransferHost& body);
void handle_update_username(Context& ctx, const Sender& sender, const proto::Frame& frame,
                            const proto::UpdateUsername& body);

// relay.cpp — §3, §10: targeted (no seq) and room-wide (sequenced) relays.
void handle_targeted(Context& ctx, const Sender& sender, const proto::Frame& frame, const proto::Targeted& body);
void handle_relay(Context& ctx, const Sender& sender, const proto::Frame& frame, const proto::Relay& body);

// gate.cpp — §6 READY gate. Closing a gate audits GATE_RELEASED exactly once.
void gate_open(Context& ctx, const std::string& seeker, double target, bool desired_play);
void gate_ready(Context& ctx, const std::string& user_id);
void gate_member_left(Context& ctx, const std::string& user_id);
void gate_cancel(Context& ctx);
void gate_expire(Context& ctx);

// pin.cpp — comparison of secrets in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// timers.cpp — deadlines. resolve_due runs before every input; `tick` also archives expired
// empty rooms.
void resolve_due(Context& ctx, bool tick);

}  // namespace tandem::room::detail
