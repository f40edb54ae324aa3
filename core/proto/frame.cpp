#include "core/proto/frame.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cmath>
#include <span>
#include <utility>

#include "core/proto/fields.hpp"
#include "core/proto/join.hpp"
#include "core/util/text.hpp"

namespace tandem::proto {

namespace {

using detail::Fields;

// Types only the server sends (§3 "Reserved types").
constexpr std::array<std::string_view, 9> kServerTypes = {
    "ROOM_STATE", "USER_JOINED", "USER_LEFT", "HOST_CHANGED", "GUEST_CONTROL",
    "USERNAME_UPDATED", "PONG", "ERROR", "SEEK_PAUSE",
};

bool is_server_type(std::string_view type) {
  for (std::string_view reserved : kServerTypes) {
    if (type == reserved) return true;
  }
  return false;
}

// Every parser fills the frame's body and, for a bad field, its field_error.
using BodyParser = void (*)(boost::json::object& object, Frame& frame);

void finish(Frame& frame, const Fields& fields) {
  if (fields.bad()) frame.field_error = ErrorCode::bad_field;
}

void parse_ping(boost::json::object&, Frame& frame) { frame.body = Ping{}; }
void parse_leave(boost::json::object&, Frame& frame) { frame.body = Leave{}; }
void parse_ready(boost::json::object&, Frame& frame) { frame.body = Ready{}; }
void parse_request_sync(boost::json::object&, Frame& frame) { frame.body = RequestSync{}; }

void parse_join_frame(boost::json::object& object, Frame& frame) {
  frame.body = detail::parse_join(object, frame.field_error);
}

void parse_update_username(boost::json::object& object, Frame& frame) {
  bool ok = true;
  frame.body = UpdateUsername{detail::parse_username(object, ok)};
  if (!ok) frame.field_error = ErrorCode::invalid_username;
}

void parse_toggle_guest_control(boost::json::object& object, Frame& frame) {
  Fields fields(object);
  frame.body = ToggleGuestControl{fields.required_boolean("enabled")};
  finish(frame, fields);
}

void parse_transfer_host(boost::json::object& object, Frame& frame) {
  Fields fields(object);
  frame.body = TransferHost{fields.required_string("targetUserId")};
  finish(frame, fields);
}

void parse_play_pause(boost::json::object& object, Frame& frame) {
  Fields fields(object);
  PlayPause body;
  const std::optional<std::string> control = fields.string("control");
  const bool control_ok = control == "play" || control == "pause";
  body.play = control == "play";
  body.current_time = fields.time("currentTime");
  body.event_timestamp = fields.number("eventTimestamp");
  frame.body = body;
  finish(frame, fields);
  if (!control_ok) frame.field_error = ErrorCode::bad_field;
}

// SEEK and HOST_HEARTBEAT: a required position, the playing flag and the event's time.
template <typename Body>
void parse_position_event(boost::json::object& object, Frame& frame) {
  Fields fields(object);
  Body body;
  body.current_time = fields.required_time("currentTime");
  body.is_playing = fields.boolean("isPlaying").value_or(false);
  body.event_timestamp = fields.number("eventTimestamp");
  frame.body = body;
  finish(frame, fields);
}

// currentTime is not required (§10 lists it for SEEK and HOST_HEARTBEAT only): absent reads as
// 0, which the room ignores.
void parse_position_update(boost::json::object& object, Frame& frame) {
  Fields fields(object);
  PositionUpdate body;
  body.current_time = fields.time("currentTime").value_or(0);
  body.is_playing = fields.boolean("isPlaying").value_or(false);
  frame.body = body;
  finish(frame, fields);
}

void parse_url_change(boost::json::object& object, Frame& frame) {
  Fields fields(object);
  UrlChange body;
  body.url = fields.required_string("url");
  body.current_time = fields.time("currentTime");
  frame.body = std::move(body);
  finish(frame, fields);
}

// OFFER / ANSWER / ICE_CANDIDATE: a string `to` is required.
void parse_signaling(boost::json::object& object, Frame& frame) {
  Fields fields(object);
  std::string to = fields.required_string("to");
  frame.body = Targeted{std::move(to), std::move(object)};
  finish(frame, fields);
}

// A peer's SYNC_RESPONSE (one with a string `to`) moves its recipient's player: the fields it
// shares with the server's own SYNC_RESPONSE are typed like it.
void parse_sync_response(boost::json::object& object, Frame& frame) {
  Fields fields(object);
  std::string to = fields.required_string("to");
  fields.time("currentTime");
  fields.boolean("isPlaying");
  std::optional<std::string> url = fields.string("url");
  frame.body = Targeted{std::move(to), std::move(object), std::move(url)};
  finish(frame, fields);
}

struct KnownType {
  std::string_view type;
  BodyParser parse;
};

// Most frequent first: a frame's type is found by a linear scan.
constexpr std::array<KnownType, 17> kKnownTypes = {{
    {"POSITION_UPDATE", parse_position_update},
    {"PING", parse_ping},
    {"HOST_HEARTBEAT", parse_position_event<HostHeartbeat>},
    {"PLAY_PAUSE", parse_play_pause},
    {"REQUEST_SYNC", parse_request_sync},
    {"JOIN", parse_join_frame},
    {"OFFER", parse_signaling},
    {"ANSWER", parse_signaling},
    {"ICE_CANDIDATE", parse_signaling},
    {"SEEK", parse_position_event<Seek>},
    {"READY", parse_ready},
    {"URL_CHANGE", parse_url_change},
    {"LEAVE", parse_leave},
    {"UPDATE_USERNAME", parse_update_username},
    {"TOGGLE_GUEST_CONTROL", parse_toggle_guest_control},
    {"TRANSFER_HOST", parse_transfer_host},
    {"SYNC_RESPONSE", parse_sync_response},
}};

constexpr auto kClientTypes = [] {
  std::array<std::string_view, kKnownTypes.size()> names{};
  for (std::size_t i = 0; i < kKnownTypes.size(); ++i) names[i] = kKnownTypes[i].type;
  return names;
}();

// Any other type: a string `to` makes it a targeted relay, a non-string one is bad_field.
void parse_other(boost::json::object& object, Frame& frame) {
  const Fields fields(object);
  const boost::json::value* to = fields.find("to");
  if (to == nullptr) {
    frame.body = Relay{std::move(object)};
  } else if (to->is_string()) {
    std::string target(to->get_string());
    frame.body = Targeted{std::move(target), std::move(object)};
  } else {
    frame.body = Targeted{std::string(), std::move(object)};
    frame.field_error = ErrorCode::bad_field;
  }
}

ParseResult parse_object(boost::json::object& object) {
  const boost::json::value* type = object.if_contains("type");
  if (type == nullptr || !type->is_string()) return ParseError{ErrorCode::bad_field};
  Frame frame;
  frame.type = std::string(type->get_string());
  if (is_server_type(frame.type)) return ParseError{ErrorCode::reserved_type};
  if (frame.type == "SYNC_RESPONSE") {
    const boost::json::value* to = object.if_contains("to");
    if (to == nullptr || !to->is_string()) return ParseError{ErrorCode::reserved_type};
  }
  for (const KnownType& known : kKnownTypes) {
    if (frame.type == known.type) {
      known.parse(object, frame);
      return frame;
    }
  }
  parse_other(object, frame);
  return frame;
}

// True when a number in `value` is not finite: Boost.JSON 1.81 reads a literal beyond a double's
// range as infinity (1e400) or NaN (0e400) and would write it as `Infinity` or `NaN`, which no
// JSON parser accepts. Depth is bounded by the parser's nesting limit.
bool has_non_finite(const boost::json::value& value) {
  if (value.is_double()) return !std::isfinite(value.get_double());
  if (value.is_array()) {
    for (const auto& item : value.get_array()) {
      if (has_non_finite(item)) return true;
    }
  }
  if (value.is_object()) {
    for (const auto& [key, item] : value.get_object()) {
      if (has_non_finite(item)) return true;
    }
  }
  return false;
}

// A URL is stored, audited (PostgreSQL's jsonb refuses U+0000) and shown to every member, or (a
// peer's SYNC_RESPONSE) opened by its recipient: no control character (C0, DEL, C1) and at most
// limits.max_url_bytes. An object passed on to other members must serialize to JSON again: numbers
// are finite (§3 "Field errors"), also nested ones.
void check_bounds(Frame& frame, const ParseLimits& limits) {
  if (frame.field_error) return;
  const auto bad_url = [&limits](const std::string& url) {
    return url.size() > limits.max_url_bytes || util::has_control_chars(url);
  };
  if (const auto* change = std::get_if<UrlChange>(&frame.body); change != nullptr && bad_url(change->url)) {
    frame.field_error = ErrorCode::bad_field;
  }
  if (const auto* targeted = std::get_if<Targeted>(&frame.body);
      targeted != nullptr && targeted->url && bad_url(*targeted->url)) {
    frame.field_error = ErrorCode::bad_field;
  }
  const boost::json::object* passed_on = nullptr;
  if (const auto* targeted = std::get_if<Targeted>(&frame.body)) passed_on = &targeted->body;
  if (const auto* relay = std::get_if<Relay>(&frame.body)) passed_on = &relay->body;
  if (passed_on != nullptr) {
    for (const auto& [key, item] : *passed_on) {
      if (has_non_finite(item)) frame.field_error = ErrorCode::bad_field;
    }
  }
}

}  // namespace

std::span<const std::string_view> client_types() { return kClientTypes; }

std::optional<std::string_view> known_client_type(std::string_view type) {
  for (const std::string_view known : kClientTypes) {
    if (known == type) return known;
  }
  return std::nullopt;
}

ParseResult parse(std::string_view text, const ParseLimits& limits) {
  try {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(text, ec);
    if (ec || !value.is_object()) return ParseError{ErrorCode::bad_json};
    ParseResult result = parse_object(value.as_object());
    if (auto* frame = std::get_if<Frame>(&result)) check_bounds(*frame, limits);
    return result;
  } catch (...) {
    return ParseError{ErrorCode::bad_json};
  }
}

}  // namespace tandem::proto
