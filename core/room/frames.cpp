#include "core/room/frames.hpp"

#include <boost/json/array.hpp>

#include <cmath>
#include <cstdint>

namespace tandem::room::detail {

namespace {

constexpr double kMaxSafeInteger = 9007199254740992.0;  // 2^53

boost::json::value optional_string(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  return boost::json::value(*text);
}

boost::json::value optional_number(std::optional<double> number) {
  if (!number) return nullptr;
  return json_number(*number);
}

}  // namespace

boost::json::value json_number(double number) {
  if (std::isfinite(number) && std::trunc(number) == number && std::fabs(number) <= kMaxSafeInteger) {
    return static_cast<std::int64_t>(number);
  }
  return number;
}

boost::json::object error_object(proto::ErrorCode code) {
  boost::json::object frame;
  frame["type"] = "ERROR";
  frame["message"] = proto::default_message(code);
  frame["code"] = proto::code_name(code);
  return frame;
}

boost::json::object pong(Millis now) {
  boost::json::object frame;
  frame["type"] = "PONG";
  frame["timestamp"] = now;
  return frame;
}

boost::json::object room_state(const RoomState& state, std::string_view node_id,
                               std::string_view session_token, Millis now) {
  boost::json::array users;
  users.reserve(state.members.size());
  for (const Member& member : state.members) {
    boost::json::object user;
    user["userId"] = member.user_id;
    user["username"] = optional_string(member.username);
    users.push_back(std::move(user));
  }
  boost::json::object frame;
  frame["type"] = "ROOM_STATE";
  frame["roomId"] = state.room_id;
  frame["url"] = state.url;
  frame["currentTime"] = json_number(position_at(state, now));
  frame["isPlaying"] = state.is_playing;
  frame["hostUserId"] = state.host_user_id;
  frame["guestControlEnabled"] = state.guest_control;
  frame["users"] = std::move(users);
  frame["nodeId"] = node_id;
  frame["seq"] = state.seq;
  frame["sessionToken"] = session_token;
  frame["timestamp"] = now;
  return frame;
}

boost::json::object user_joined(const Member& member, Millis now) {
  boost::json::object frame;
  frame["type"] = "USER_JOINED";
  frame["userId"] = member.user_id;
  frame["peerId"] = member.peer_id;
  frame["username"] = optional_string(member.username);
  frame["timestamp"] = now;
  return frame;
}

boost::json::object user_left(const Member& member, Millis now) {
  boost::json::object frame;
  frame["type"] = "USER_LEFT";
  frame["userId"] = member.user_id;
  frame["peerId"] = member.peer_id;
  frame["timestamp"] = now;
  return frame;
}

boost::json::object host_changed(std::string_view host_user_id, Millis now) {
  boost::json::object frame;
  frame["type"] = "HOST_CHANGED";
  frame["hostUserId"] = host_user_id;
  frame["timestamp"] = now;
  return frame;
}

boost::json::object guest_control(bool enabled, Millis now) {
  boost::json::object frame;
  frame["type"] = "GUEST_CONTROL";
  frame["enabled"] = enabled;
  frame["timestamp"] = now;
  return frame;
}

boost::json::object username_updated(const Member& member, Millis now) {
  boost::json::object frame;
  frame["type"] = "USERNAME_UPDATED";
  frame["userId"] = member.user_id;
  frame["username"] = optional_string(member.username);
  frame["timestamp"] = now;
  return frame;
}

boost::json::object play_pause(std::string_view user_id, bool play, std::optional<double> current_time,
                               std::optional<double> event_timestamp, Millis now) {
  boost::json::object frame;
  frame["type"] = "PLAY_PAUSE";
  frame["userId"] = user_id;
  frame["control"] = play ? "play" : "pause";
  frame["timestamp"] = now;
  if (current_time) frame["currentTime"] = json_number(*current_time);
  if (event_timestamp) frame["eventTimestamp"] = json_number(*event_timestamp);
  return frame;
}

boost::json::object seek_pause(std::string_view user_id, double current_time,
                               std::optional<double> event_timestamp, Millis now) {
  boost::json::object frame;
  frame["type"] = "SEEK_PAUSE";
  frame["userId"] = user_id;
  frame["currentTime"] = json_number(current_time);
  frame["eventTimestamp"] = optional_number(event_timestamp);
  frame["timestamp"] = now;
  return frame;
}

boost::json::object host_heartbeat(std::string_view user_id, double current_time, bool is_playing,
                                   std::optional<double> event_timestamp, Millis now) {
  boost::json::object frame;
  frame["type"] = "HOST_HEARTBEAT";
  frame["userId"] = user_id;
  frame["currentTime"] = json_number(current_time);
  frame["isPlaying"] = is_playing;
  frame["eventTimestamp"] = optional_number(event_timestamp);
  frame["timestamp"] = now;
  return frame;
}

boost::json::object url_change(std::string_view user_id, std::string_view url,
                               std::optional<double> current_time, Millis now) {
  boost::json::object frame;
  frame["type"] = "URL_CHANGE";
  frame["userId"] = user_id;
  frame["url"] = url;
  if (current_time) frame["currentTime"] = json_number(*current_time);
  frame["timestamp"] = now;
  return frame;
}

boost::json::object sync_response(const RoomState& state, Millis now) {
  boost::json::object frame;
  frame["type"] = "SYNC_RESPONSE";
  frame["fromUserId"] = "server";
  frame["currentTime"] = json_number(position_at(state, now));
  frame["isPlaying"] = state.is_playing;
  frame["url"] = state.url;
  frame["timestamp"] = now;
  return frame;
}

}  // namespace tandem::room::detail
