#pragma once

#include <catch2/catch.hpp>

#include <boost/json/serialize.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "core/proto/frame.hpp"
#include "core/room/room.hpp"

namespace tandem::room::testing {

namespace json = boost::json;
namespace proto = tandem::proto;

inline constexpr Millis kStart = 1'732'665'600'000;
inline constexpr const char* kNetflix = "https://www.netflix.com/watch/80100172";

struct JoinOptions {
  std::optional<std::string> username;
  std::optional<std::string> pin;
  bool pin_invalid = false;
  std::optional<std::string> token;
  std::string node = "node-a";
  std::string addr = "10.0.0.1";
  bool addr_blocked = false;
  std::optional<PinHash> pin_proof;
};

// One room driven through apply() with a clock the test moves. Connections are named
// "<node>/<n>"; peer ids and session tokens are fresh per JOIN.
class RoomFixture {
 public:
  RoomState state;
  Settings settings;
  Millis now = kStart;
  int counter = 0;
  std::string room_id = "room-1";

  Effects apply_input(const Input& input) { return room::apply(state, input, now, settings); }

  Effects join(const std::string& conn, const std::string& user, JoinOptions options = {}) {
    JoinInput input;
    input.conn = conn;
    input.node_id = options.node;
    input.client_addr = options.addr;
    input.join.room_id = room_id;
    input.join.user_id = user;
    input.join.username = options.username;
    input.join.pin = options.pin;
    input.join.pin_invalid = options.pin_invalid;
    input.join.token = options.token;
    ++counter;
    input.peer_id = "peer-" + std::to_string(counter);
    char token[33];
    std::snprintf(token, sizeof token, "%032x", static_cast<unsigned>(counter));
    input.session_token = token;
    input.pin_salt = "00112233445566778899aabbccddeeff";
    input.addr_blocked = options.addr_blocked;
    input.pin_proof = options.pin_proof;
    return apply_input(input);
  }

  // A frame given as JSON text, parsed as the engine would.
  Effects send(const std::string& conn, std::string_view text, const std::string& node = "node-a") {
    proto::ParseResult parsed = proto::parse(text);
    INFO(text);
    REQUIRE(std::holds_alternative<proto::Frame>(parsed));
    return apply_input(FrameInput{conn, node, std::get<proto::Frame>(std::move(parsed))});
  }

  Effects disconnect(const std::string& conn, bool switching = false) {
    return apply_input(DisconnectInput{conn, switching});
  }
  Effects tick() { return apply_input(TickInput{}); }
  Effects node_lost(const std::string& node) { return apply_input(NodeLostInput{node}); }

  const Member* member(std::string_view user) const {
    for (const Member& m : state.members) {
      if (m.user_id == user) return &m;
    }
    return nullptr;
  }
  std::vector<std::string> member_ids() const {
    std::vector<std::string> ids;
    for (const Member& m : state.members) ids.push_back(m.user_id);
    return ids;
  }
};

inline std::string type_of(const OutFrame& frame) {
  return std::string(frame.frame.at("type").as_string());
}

inline std::vector<std::string> types(const Effects& fx) {
  std::vector<std::string> out;
  for (const OutFrame& frame : fx.frames) out.push_back(type_of(frame));
  return out;
}

inline std::vector<std::string> audit_types(const Effects& fx) {
  std::vector<std::string> out;
  for (const AuditRecord& record : fx.audit) out.push_back(record.type);
  return out;
}

inline std::size_t count_type(const Effects& fx, std::string_view type) {
  std::size_t n = 0;
  for (const OutFrame& frame : fx.frames) n += type_of(frame) == type ? 1 : 0;
  return n;
}

// The only frame of `type`; fails the test when there is not exactly one.
inline const OutFrame& only(const Effects& fx, std::string_view type) {
  const OutFrame* found = nullptr;
  int count = 0;
  for (const OutFrame& frame : fx.frames) {
    if (type_of(frame) == type) {
      found = &frame;
      ++count;
    }
  }
  INFO("frame type " << type);
  REQUIRE(count == 1);
  return *found;
}

inline const AuditRecord& nth_audit(const Effects& fx, std::string_view type, std::size_t index) {
  std::vector<const AuditRecord*> found;
  for (const AuditRecord& record : fx.audit) {
    if (record.type == type) found.push_back(&record);
  }
  INFO("audit type " << type);
  REQUIRE(index < found.size());
  return *found[index];
}

inline const AuditRecord& only_audit(const Effects& fx, std::string_view type) {
  const AuditRecord* found = nullptr;
  int count = 0;
  for (const AuditRecord& record : fx.audit) {
    if (record.type == type) {
      found = &record;
      ++count;
    }
  }
  INFO("audit type " << type);
  REQUIRE(count == 1);
  return *found;
}

// Frames a connection receives, in order.
inline std::vector<json::object> received(const Effects& fx, std::string_view conn) {
  std::vector<json::object> out;
  for (const OutFrame& frame : fx.frames) {
    for (const ConnId& recipient : frame.recipients) {
      if (recipient == conn) out.push_back(frame.frame);
    }
  }
  return out;
}

inline std::vector<std::string> received_types(const Effects& fx, std::string_view conn) {
  std::vector<std::string> out;
  for (const json::object& frame : received(fx, conn)) out.emplace_back(frame.at("type").as_string());
  return out;
}

inline std::vector<std::string> sorted(std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  return items;
}

inline std::vector<std::string> keys(const json::object& object) {
  std::vector<std::string> out;
  for (const auto& entry : object) out.emplace_back(entry.key());
  return out;
}

inline json::object error(std::string_view code, std::string_view message) {
  json::object frame;
  frame["type"] = "ERROR";
  frame["message"] = message;
  frame["code"] = code;
  return frame;
}

inline bool has_error(const Effects& fx, std::string_view conn, std::string_view code) {
  for (const json::object& frame : received(fx, conn)) {
    if (frame.at("type") == "ERROR" && frame.at("code").as_string() == code) return true;
  }
  return false;
}

inline std::vector<std::string> ss(std::initializer_list<const char*> items) {
  return std::vector<std::string>(items.begin(), items.end());
}

// A room with host u1 on node-a/1 and members u2 (node-a/2), u3 (node-b/3), … in that order.
inline void populate(RoomFixture& room, int members) {
  for (int i = 1; i <= members; ++i) {
    const std::string node = i % 3 == 0 ? "node-b" : "node-a";
    room.join(node + "/" + std::to_string(i), "u" + std::to_string(i), {.node = node});
    room.now += 10;
  }
}

inline std::string conn_of(int i) { return (i % 3 == 0 ? "node-b/" : "node-a/") + std::to_string(i); }

}  // namespace tandem::room::testing

namespace Catch {
template <>
struct StringMaker<boost::json::object> {
  static std::string convert(const boost::json::object& value) { return boost::json::serialize(value); }
};
template <>
struct StringMaker<boost::json::value> {
  static std::string convert(const boost::json::value& value) { return boost::json::serialize(value); }
};
}  // namespace Catch
