#include "core/room/room.hpp"

#include <set>
#include <type_traits>

#include "core/room/frames.hpp"
#include "core/room/steps.hpp"

namespace tandem::room {

namespace detail {

namespace {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

std::size_t index_of_conn(const RoomState& state, const ConnId& conn) {
  for (std::size_t i = 0; i < state.members.size(); ++i) {
    if (state.members[i].conn == conn) return i;
  }
  return state.members.size();
}

}  // namespace

bool allowed_and_valid(Context& ctx, const Sender& sender, const proto::Frame& frame, bool allowed) {
  if (!allowed) {
    ctx.send_error(sender.conn, proto::ErrorCode::not_allowed);
    return false;
  }
  if (frame.field_error) {
    ctx.send_error(sender.conn, *frame.field_error);
    return false;
  }
  return true;
}

void handle_frame(Context& ctx, const FrameInput& input) {
  const proto::Frame& frame = input.frame;
  Member* member = ctx.member_by_conn(input.conn);
  if (std::holds_alternative<proto::Ping>(frame.body)) {
    ctx.send(input.conn, pong(ctx.now));
  } else if (member == nullptr) {
    ctx.send_error(input.conn, proto::ErrorCode::not_joined);
  }
  if (member == nullptr) return;
  member->last_seen = ctx.now;
  ctx.s.last_activity = ctx.now;
  ctx.mark_changed();
  const Sender sender{member->user_id, input.conn, input.node_id};

  std::visit(
      Overloaded{
          [](const proto::Ping&) {},
          [](const proto::Join&) {},  // JOINs arrive as JoinInput
          [&](const proto::Leave&) {
            remove_member(ctx, index_of_conn(ctx.s, input.conn), Departure::leave);
          },
          [&](const proto::UpdateUsername& body) { handle_update_username(ctx, sender, frame, body); },
          [&](const proto::ToggleGuestControl& body) { handle_toggle_guest_control(ctx, sender, frame, body); },
          [&](const proto::TransferHost& body) { handle_transfer_host(ctx, sender, frame, body); },
          [&](const proto::PlayPause& body) { handle_play_pause(ctx, sender, frame, body); },
          [&](const proto::Seek& body) { handle_seek(ctx, sender, frame, body); },
          [&](const proto::Ready&) { gate_ready(ctx, sender.user_id); },
          [&](const proto::HostHeartbeat& body) { handle_host_heartbeat(ctx, sender, frame, body); },
          [&](const proto::PositionUpdate& body) { handle_position_update(ctx, sender, frame, body); },
          [&](const proto::UrlChange& body) { handle_url_change(ctx, sender, frame, body); },
          [&](const proto::RequestSync&) { ctx.send(input.conn, sync_response(ctx.s, ctx.now)); },
          [&](const proto::Targeted& body) { handle_targeted(ctx, sender, frame, body); },
          [&](const proto::Relay& body) { handle_relay(ctx, sender, frame, body); },
      },
      frame.body);
}

}  // namespace detail

Effects apply(RoomState& state, const Input& input, Millis now, const Settings& settings) {
  Effects effects;
  const auto* frame_input = std::get_if<FrameInput>(&input);
  detail::Context ctx(state, effects, now, settings, frame_input ? frame_input->received_at : 0);
  std::visit(detail::Overloaded{
                 [&](const JoinInput& join) {
                   detail::resolve_due(ctx, false);
                   detail::handle_join(ctx, join);
                 },
                 [&](const FrameInput& frame) {
                   detail::resolve_due(ctx, false);
                   detail::handle_frame(ctx, frame);
                 },
                 // Departures first: a leaving socket gets nothing of the deadlines resolved
                 // after it (a switching one is already in its next room).
                 [&](const DisconnectInput& disconnect) {
                   detail::handle_disconnect(ctx, disconnect);
                   detail::resolve_due(ctx, false);
                 },
                 [&](const TickInput&) { detail::resolve_due(ctx, true); },
                 [&](const NodeLostInput& lost) {
                   detail::handle_node_lost(ctx, lost);
                   detail::resolve_due(ctx, false);
                 },
                 [&](const SeenInput& seen) {
                   detail::resolve_due(ctx, false);
                   if (Member* member = ctx.member_by_conn(seen.conn)) {
                     member->last_seen = now;
                     ctx.mark_changed();
                   }
                 },
             },
             input);
  return effects;
}

std::vector<AuditRecord> remove_all_members(RoomState& state, Millis now, const Settings& settings) {
  std::set<std::string> nodes;
  for (const auto& m : state.members) nodes.insert(m.node_id);
  std::vector<AuditRecord> audit;
  for (const auto& node : nodes) {
    Effects fx = apply(state, NodeLostInput{node}, now, settings);
    audit.insert(audit.end(), std::make_move_iterator(fx.audit.begin()), std::make_move_iterator(fx.audit.end()));
  }
  return audit;
}

}  // namespace tandem::room
