#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string_view>

#include "core/room/room.hpp"

namespace tandem::room::detail {

// Server frames (docs/protocol.md §2-§6) without `seq`: Context::broadcast adds it to room
// broadcasts. Keys appear in the order the protocol lists them. `timestamp` is `now`.

// A number as JSON: integral values within ±2^53 as integers, others as doubles.
boost::json::value json_number(double number);

boost::json::object error_object(proto::ErrorCode code);
boost::json::object pong(Millis now);
// Carries the room's current seq (that of the joiner's USER_JOINED).
boost::json::object room_state(const RoomState& state, std::string_view node_id,
                               std::string_view session_token, Millis now);
boost::json::object user_joined(const Member& member, Millis now);
boost::json::object user_left(const Member& member, Millis now);
boost::json::object host_changed(std::string_view host_user_id, Millis now);
boost::json::object guest_control(bool enabled, Millis now);
boost::json::object username_updated(const Member& member, Millis now);
boost::json::object play_pause(std::string_view user_id, bool play, std::optional<double> current_time,
                               std::optional<double> event_timestamp, Millis now);
boost::json::object seek_pause(std::string_view user_id, double current_time,
                               std::optional<double> event_timestamp, Millis now);
boost::json::object host_heartbeat(std::string_view user_id, double current_time, bool is_playing,
                                   std::optional<double> event_timestamp, Millis now);
boost::json::object url_change(std::string_view user_id, std::string_view url,
                               std::optional<double> current_time, Millis now);
boost::json::object sync_response(const RoomState& state, Millis now);

}  // namespace tandem::room::detail
