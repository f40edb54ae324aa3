#include <variant>

#include "core/room/room.hpp"

namespace tandem::room {

namespace {

// Frames whose handlers write nothing but the sender's last_seen, last_activity and (the
// controller's POSITION_UPDATE) the stored position; test_room [bookmark] holds them to it.
bool bookkeeping_only(const proto::Frame& frame) {
  return std::holds_alternative<proto::Ping>(frame.body) || std::holds_alternative<proto::PositionUpdate>(frame.body) ||
         std::holds_alternative<proto::RequestSync>(frame.body) || std::holds_alternative<proto::Targeted>(frame.body);
}

}  // namespace

std::optional<Bookmark> Bookmark::take(const RoomState& state, const Input& input, Millis now) {
  const auto* frame = std::get_if<FrameInput>(&input);
  if (frame == nullptr || !bookkeeping_only(frame->frame)) return std::nullopt;
  // Every input first resolves the deadlines due at `now`, and those may change anything.
  if (const auto deadline = next_deadline(state); deadline && *deadline <= now) return std::nullopt;
  Bookmark mark;
  mark.current_time_ = state.current_time;
  mark.is_playing_ = state.is_playing;
  mark.position_at_ = state.position_at;
  mark.last_activity_ = state.last_activity;
  for (std::size_t i = 0; i < state.members.size(); ++i) {
    if (state.members[i].conn == frame->conn) {
      mark.sender_ = i;
      mark.sender_seen_ = state.members[i].last_seen;
      break;
    }
  }
  return mark;
}

void Bookmark::restore(RoomState& state) const {
  state.current_time = current_time_;
  state.is_playing = is_playing_;
  state.position_at = position_at_;
  state.last_activity = last_activity_;
  if (sender_ && *sender_ < state.members.size()) state.members[*sender_].last_seen = sender_seen_;
}

}  // namespace tandem::room
