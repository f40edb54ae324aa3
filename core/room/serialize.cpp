#include <boost/json/array.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/room/room.hpp"

namespace tandem::room {

namespace {

namespace json = boost::json;

constexpr std::int64_t kFormatVersion = 1;

json::value optional_millis(const std::optional<Millis>& millis) {
  if (!millis) return nullptr;
  return *millis;
}

json::value optional_string(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  return json::value(*text);
}

// Doubles are written as their shortest round-trip decimal text: Boost.JSON 1.81 does not parse
// every number back to the same double, a string read with from_chars does.
json::value exact_double(double number) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, number);
  return json::value(std::string_view(buffer, static_cast<std::size_t>(result.ptr - buffer)));
}

json::array strings(const std::vector<std::string>& items) {
  json::array array;
  for (const std::string& item : items) array.emplace_back(item);
  return array;
}

json::object member_json(const Member& member) {
  json::object out;
  out["userId"] = member.user_id;
  out["username"] = optional_string(member.username);
  out["peerId"] = member.peer_id;
  out["conn"] = member.conn;
  out["nodeId"] = member.node_id;
  out["clientAddr"] = member.client_addr;
  out["sessionToken"] = member.session_token;
  out["joinedAt"] = member.joined_at;
  out["lastSeen"] = member.last_seen;
  return out;
}

json::object gate_json(const Gate& gate) {
  json::object out;
  out["id"] = gate.id;
  out["target"] = exact_double(gate.target);
  out["desiredPlay"] = gate.desired_play;
  out["openedAt"] = gate.opened_at;
  out["deadline"] = gate.deadline;
  out["seeker"] = gate.seeker;
  out["expected"] = strings(gate.expected);
  out["ready"] = strings(gate.ready);
  return out;
}

// Typed reads of one object; every malformed or missing key throws std::invalid_argument.
class Reader {
 public:
  Reader(const json::value& value, std::string where) : where_(std::move(where)) {
    if (!value.is_object()) fail("", "an object");
    object_ = &value.get_object();
  }

  const json::value& at(std::string_view key) const {
    const json::value* value = object_->if_contains(key);
    if (value == nullptr) fail(key, "present");
    return *value;
  }
  bool has_value(std::string_view key) const { return !at(key).is_null(); }
  bool contains(std::string_view key) const { return object_->if_contains(key) != nullptr; }

  std::string string(std::string_view key) const {
    const json::value& value = at(key);
    if (!value.is_string()) fail(key, "a string");
    return std::string(value.get_string());
  }
  std::optional<std::string> optional_string(std::string_view key) const {
    if (!has_value(key)) return std::nullopt;
    return string(key);
  }
  bool boolean(std::string_view key) const {
    const json::value& value = at(key);
    if (!value.is_bool()) fail(key, "a boolean");
    return value.get_bool();
  }
  // A finite number, as decimal text (exact_double) or as a JSON number.
  double number(std::string_view key) const {
    const json::value& value = at(key);
    double number = 0;
    if (value.is_string()) {
      const std::string_view text = value.get_string();
      const auto result = std::from_chars(text.data(), text.data() + text.size(), number);
      if (result.ec != std::errc() || result.ptr != text.data() + text.size()) fail(key, "a decimal number");
    } else if (value.is_double()) {
      number = value.get_double();
    } else if (value.is_int64()) {
      number = static_cast<double>(value.get_int64());
    } else if (value.is_uint64()) {
      number = static_cast<double>(value.get_uint64());
    } else {
      fail(key, "a number");
    }
    if (!std::isfinite(number)) fail(key, "finite");
    return number;
  }
  std::int64_t int64(std::string_view key) const {
    const json::value& value = at(key);
    if (value.is_int64()) return value.get_int64();
    if (value.is_uint64() && value.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(value.get_uint64());
    }
    fail(key, "an integer");
  }
  std::optional<std::int64_t> optional_int64(std::string_view key) const {
    if (!has_value(key)) return std::nullopt;
    return int64(key);
  }
  std::uint64_t uint64(std::string_view key) const {
    const json::value& value = at(key);
    if (value.is_uint64()) return value.get_uint64();
    if (value.is_int64() && value.get_int64() >= 0) return static_cast<std::uint64_t>(value.get_int64());
    fail(key, "a non-negative integer");
  }
  const json::array& array(std::string_view key) const {
    const json::value& value = at(key);
    if (!value.is_array()) fail(key, "an array");
    return value.get_array();
  }
  std::vector<std::string> strings(std::string_view key) const {
    std::vector<std::string> out;
    for (const json::value& item : array(key)) {
      if (!item.is_string()) fail(key, "an array of strings");
      out.emplace_back(item.get_string());
    }
    return out;
  }

  [[noreturn]] void fail(std::string_view key, std::string_view expected) const {
    std::string message = "room state: " + where_;
    if (!key.empty()) message += "." + std::string(key);
    message += " must be " + std::string(expected);
    throw std::invalid_argument(message);
  }

 private:
  std::string where_;
  const json::object* object_ = nullptr;
};

Member member_from(const json::value& value) {
  const Reader in(value, "members[]");
  Member member;
  member.user_id = in.string("userId");
  member.username = in.optional_string("username");
  member.peer_id = in.string("peerId");
  member.conn = in.string("conn");
  member.node_id = in.string("nodeId");
  member.client_addr = in.string("clientAddr");
  member.session_token = in.string("sessionToken");
  member.joined_at = in.int64("joinedAt");
  member.last_seen = in.int64("lastSeen");
  return member;
}

Gate gate_from(const json::value& value) {
  const Reader in(value, "gate");
  Gate gate;
  gate.id = in.uint64("id");
  gate.target = in.number("target");
  gate.desired_play = in.boolean("desiredPlay");
  gate.opened_at = in.int64("openedAt");
  gate.deadline = in.int64("deadline");
  gate.seeker = in.string("seeker");
  gate.expected = in.strings("expected");
  gate.ready = in.strings("ready");
  return gate;
}

PinHash pin_from(const json::value& value) {
  const Reader in(value, "pin");
  // "peppered" is written only when true: snapshots from before security.pin_secret read as false.
  return PinHash{in.string("salt"), in.string("hash"), in.contains("peppered") && in.boolean("peppered")};
}

}  // namespace

json::value to_json(const RoomState& state) {
  json::object out;
  out["v"] = kFormatVersion;
  out["roomId"] = state.room_id;
  out["exists"] = state.exists;
  out["url"] = state.url;
  out["currentTime"] = exact_double(state.current_time);
  out["isPlaying"] = state.is_playing;
  out["positionAt"] = state.position_at;
  out["hostUserId"] = state.host_user_id;
  out["hostGraceDeadline"] = optional_millis(state.host_grace_deadline);
  out["guestControl"] = state.guest_control;
  if (state.pin) {
    json::object pin;
    pin["salt"] = state.pin->salt;
    pin["hash"] = state.pin->hash;
    if (state.pin->peppered) pin["peppered"] = true;
    out["pin"] = std::move(pin);
  } else {
    out["pin"] = nullptr;
  }
  if (!state.pin_failures.empty()) {
    json::array failures;
    for (const Millis at : state.pin_failures) failures.emplace_back(at);
    out["pinFailures"] = std::move(failures);
  }
  json::array members;
  for (const Member& member : state.members) members.emplace_back(member_json(member));
  out["members"] = std::move(members);
  out["seq"] = state.seq;
  out["gate"] = state.gate ? json::value(gate_json(*state.gate)) : json::value(nullptr);
  out["nextGateId"] = state.next_gate_id;
  out["emptySince"] = optional_millis(state.empty_since);
  out["emptyDeadline"] = optional_millis(state.empty_deadline);
  out["archived"] = state.archived;
  out["createdAt"] = state.created_at;
  out["lastActivity"] = state.last_activity;
  return out;
}

RoomState from_json(const json::value& value) {
  const Reader in(value, "state");
  if (in.int64("v") != kFormatVersion) in.fail("v", "1");
  RoomState state;
  state.room_id = in.string("roomId");
  state.exists = in.boolean("exists");
  state.url = in.string("url");
  state.current_time = in.number("currentTime");
  state.is_playing = in.boolean("isPlaying");
  state.position_at = in.int64("positionAt");
  state.host_user_id = in.string("hostUserId");
  state.host_grace_deadline = in.optional_int64("hostGraceDeadline");
  state.guest_control = in.boolean("guestControl");
  if (in.has_value("pin")) state.pin = pin_from(in.at("pin"));
  if (in.contains("pinFailures")) {
    for (const json::value& at : in.array("pinFailures")) {
      if (!at.is_int64()) in.fail("pinFailures", "an array of integers");
      state.pin_failures.push_back(at.get_int64());
    }
  }
  for (const json::value& member : in.array("members")) state.members.push_back(member_from(member));
  state.seq = in.uint64("seq");
  if (in.has_value("gate")) state.gate = gate_from(in.at("gate"));
  state.next_gate_id = in.uint64("nextGateId");
  state.empty_since = in.optional_int64("emptySince");
  state.empty_deadline = in.optional_int64("emptyDeadline");
  state.archived = in.boolean("archived");
  state.created_at = in.int64("createdAt");
  state.last_activity = in.int64("lastActivity");
  return state;
}

}  // namespace tandem::room
