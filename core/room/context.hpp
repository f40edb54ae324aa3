#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/room/room.hpp"

namespace tandem::room::detail {

// One application of an input: the room, the effects being collected, the time and settings.
// Every helper that changes the room marks the effects changed.
class Context {
 public:
  Context(RoomState& state, Effects& effects, Millis at, const Settings& room_settings, Millis reported = 0)
      : s(state), fx(effects), now(at), reported_at(reported > 0 && reported < at ? reported : at),
        settings(room_settings) {}

  RoomState& s;
  Effects& fx;
  const Millis now;
  // The time a position in the input refers to: when the node read the frame (FrameInput::
  // received_at), never later than `now`.
  const Millis reported_at;
  const Settings& settings;

  Member* member_by_conn(std::string_view conn);
  Member* member_by_user(std::string_view user_id);
  bool is_member(std::string_view user_id) const;
  bool is_controller(std::string_view user_id) const;

  // Connections of every member, in join order; `except` is left out.
  std::vector<ConnId> member_conns(std::string_view except = {}) const;

  // A room broadcast: increments the room's seq, stamps it into the frame and returns it.
  std::uint64_t broadcast(boost::json::object frame, std::vector<ConnId> recipients);
  // A frame to one connection: no seq.
  void send(const ConnId& conn, boost::json::object frame);
  void send_error(const ConnId& conn, proto::ErrorCode code);
  void close(const ConnId& conn, std::uint16_t code, std::string reason);
  void audit(std::string type, std::string user_id, std::uint64_t seq, boost::json::object detail = {});
  void mark_changed() { fx.changed = true; }
};

}  // namespace tandem::room::detail
