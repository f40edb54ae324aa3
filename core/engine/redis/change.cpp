#include "core/engine/redis/change.hpp"

#include <algorithm>
#include <iterator>
#include <variant>

#include "core/proto/frame.hpp"

namespace tandem::engine::redis {

namespace {

Digest without_position(Digest d) {
  d.current_time = 0;
  d.position_at = 0;
  return d;
}

}  // namespace

Digest digest(const room::RoomState& s) {
  return Digest{s.current_time, s.is_playing, s.position_at, s.host_grace_deadline, s.gate ? s.gate->id : 0,
                s.gate ? s.gate->ready.size() : 0, s.gate ? s.gate->expected.size() : 0, s.exists, s.archived};
}

bool only_position_moved(const Digest& before, const Digest& after) {
  return without_position(after) == without_position(before);
}

bool sequences_or_audits(const room::Effects& fx) {
  return !fx.audit.empty() || fx.archived ||
         std::any_of(fx.frames.begin(), fx.frames.end(), [](const auto& f) { return f.sequenced; });
}

bool may_change_members(const room::Input& input) {
  const auto* frame = std::get_if<room::FrameInput>(&input);
  return !frame || std::holds_alternative<proto::Leave>(frame->frame.body);
}

bool seats(const room::RoomState& s, const room::ConnId& conn) {
  return std::any_of(s.members.begin(), s.members.end(), [&](const room::Member& m) { return m.conn == conn; });
}

void append_effects(room::Effects& fx, room::Effects&& more) {
  std::move(more.frames.begin(), more.frames.end(), std::back_inserter(fx.frames));
  std::move(more.closes.begin(), more.closes.end(), std::back_inserter(fx.closes));
  std::move(more.audit.begin(), more.audit.end(), std::back_inserter(fx.audit));
  fx.archived = fx.archived || more.archived;
  fx.changed = fx.changed || more.changed;
}

const room::DisconnectInput* departure(const room::Input& input) {
  const auto* left = std::get_if<room::DisconnectInput>(&input);
  return left && !left->switching ? left : nullptr;
}

std::string_view input_label(const room::Input& input) {
  struct Label {
    std::string_view operator()(const room::JoinInput&) const { return "JOIN"; }
    std::string_view operator()(const room::FrameInput& in) const {
      return proto::known_client_type(in.frame.type).value_or("other");
    }
    std::string_view operator()(const room::DisconnectInput&) const { return "disconnect"; }
    std::string_view operator()(const room::TickInput&) const { return "tick"; }
    std::string_view operator()(const room::NodeLostInput&) const { return "node_lost"; }
    std::string_view operator()(const room::SeenInput&) const { return "seen"; }
  };
  return std::visit(Label{}, input);
}

bool departs(const room::Input& input) {
  const auto* frame = std::get_if<room::FrameInput>(&input);
  return std::holds_alternative<room::DisconnectInput>(input) ||
         (frame && std::holds_alternative<proto::Leave>(frame->frame.body));
}

}  // namespace tandem::engine::redis
