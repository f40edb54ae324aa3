// The room state machine (core/room, docs/protocol.md §2-§6, §8, §10). The input is read as a
// program: joins, leaves, frames (well-formed ones built from the input, and raw text through the
// frame parser), disconnects, node losses, ticks and the passing of time, applied to one room
// with the same deterministic values an engine would supply. After every step the invariants the
// protocol states are checked:
//   * one host, and the host is a member — except during its grace (§4) or in a room left empty
//     (§5); members are unique by userId and by connection; at most max_room_members;
//   * every broadcast takes the next seq, in order, and the room's seq is the last one taken
//     (§3 "Sequence numbers"); frames to one connection carry none (ROOM_STATE reports it);
//   * an open gate expects members only, counts each READY once, is below its quorum and ends
//     before its deadline (§6); host grace and gate deadlines lie ahead once an input was applied;
//   * a room is empty exactly while its empty-room deadline runs, an archived room is empty and
//     ignores every input but a JOIN; an unchanged Effects::changed means an unchanged state;
//   * the state survives its persistence format (room::to_json / from_json, through text);
//   * after a tick nothing is due, and a second tick at the same time is a no-op.

#include <fuzzer/FuzzedDataProvider.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "core/proto/frame.hpp"
#include "core/room/room.hpp"
#include "tests/fuzz/check.hpp"

namespace {

using namespace tandem;
namespace json = boost::json;

constexpr std::size_t kMaxSteps = 48;
constexpr int kConnections = 6;
constexpr int kUsers = 4;
constexpr int kNodes = 3;
const std::string kRoomId = "room-1";

std::string conn_name(int c) { return "n" + std::to_string(c % kNodes) + "/" + std::to_string(c); }
std::string node_name(int c) { return "n" + std::to_string(c % kNodes); }
std::string user_name(int u) { return "user-" + std::to_string(u); }

// A fixed-width hex id, different for every counter value (peer ids, session tokens).
std::string hex_id(std::uint64_t counter, std::size_t width) {
  std::string out(width, '0');
  for (std::size_t i = width; i-- > 0 && counter != 0; counter >>= 4) out[i] = "0123456789abcdef"[counter & 15];
  return out;
}

std::size_t quorum(std::size_t expected) { return std::max<std::size_t>(1, (3 * expected + 4) / 5); }

class Program {
 public:
  explicit Program(FuzzedDataProvider& in) : in_(in) {
    settings_.max_room_members = 3;
    settings_.strict_identity = in_.ConsumeBool();
    if (in_.ConsumeBool()) settings_.allowed_url_prefixes.clear();
    state_.room_id = kRoomId;
  }

  void run() {
    for (std::size_t step = 0; step < kMaxSteps && in_.remaining_bytes() > 0; ++step) {
      switch (in_.ConsumeIntegralInRange<int>(0, 9)) {
        case 0: join(); break;
        case 1:
        case 2: frame(); break;
        case 3: raw_frame(); break;
        case 4: apply(room::DisconnectInput{conn_name(connection()), in_.ConsumeBool()}); break;
        case 5: tick(); break;
        case 6: apply(room::NodeLostInput{node_name(in_.ConsumeIntegralInRange<int>(0, kNodes - 1))}); break;
        case 7: apply(room::SeenInput{conn_name(connection())}); break;
        case 8: now_ += in_.ConsumeIntegralInRange<room::Millis>(0, 20'000); break;
        case 9: now_ += in_.ConsumeBool() ? settings_.empty_ttl : settings_.host_grace; break;
      }
    }
  }

 private:
  int connection() { return in_.ConsumeIntegralInRange<int>(0, kConnections - 1); }
  int user() { return in_.ConsumeIntegralInRange<int>(0, kUsers - 1); }

  double time_value() {
    switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: return 0;
      case 1: return static_cast<double>(in_.ConsumeIntegralInRange<int>(0, 7200));
      case 2: return in_.ConsumeFloatingPointInRange<double>(0, 1e6);
      default: return in_.ConsumeFloatingPoint<double>();  // may be negative: bad_field
    }
  }

  std::optional<proto::Frame> parse(const json::object& object) {
    auto result = proto::parse(json::serialize(object));
    if (auto* frame = std::get_if<proto::Frame>(&result)) return std::move(*frame);
    return std::nullopt;
  }

  void join() {
    const int c = connection();
    const int u = user();
    json::object object{{"type", "JOIN"}, {"roomId", kRoomId}, {"userId", user_name(u)}};
    switch (in_.ConsumeIntegralInRange<int>(0, 2)) {
      case 0: break;
      case 1: object["username"] = in_.ConsumeRandomLengthString(80); break;
      default: object["username"] = nullptr; break;
    }
    switch (in_.ConsumeIntegralInRange<int>(0, 4)) {
      case 0: break;
      case 1: object["pin"] = "1234"; break;
      case 2: object["pin"] = "9999"; break;
      case 3: object["pin"] = 1234; break;
      default: object["pin"] = 12.5; break;  // malformed
    }
    if (in_.ConsumeBool()) {
      // The token the seat was given by its last ROOM_STATE, or a wrong one.
      object["token"] = in_.ConsumeBool() ? tokens_[user_name(u)] : std::string("0");
    }
    std::optional<proto::Frame> frame = parse(object);
    // The engine answers field errors itself; only valid JOINs reach the room.
    if (!frame || frame->field_error || !std::holds_alternative<proto::Join>(frame->body)) return;
    room::JoinInput input;
    input.conn = conn_name(c);
    input.node_id = node_name(c);
    input.client_addr = "10.0.0." + std::to_string(c);
    input.join = std::get<proto::Join>(frame->body);
    input.peer_id = hex_id(++counter_, 16);
    input.session_token = hex_id(++counter_, 32);
    input.pin_salt = hex_id(++counter_, 32);
    input.addr_blocked = in_.ConsumeIntegralInRange<int>(0, 7) == 0;
    const std::string token = input.session_token;
    const room::Effects fx = apply(input);
    if (fx.join == room::JoinOutcome::joined) tokens_[user_name(u)] = token;
  }

  void frame() {
    const int c = connection();
    constexpr const char* kTypes[] = {"PING",          "LEAVE",          "UPDATE_USERNAME", "TOGGLE_GUEST_CONTROL",
                                      "TRANSFER_HOST", "PLAY_PAUSE",     "SEEK",            "READY",
                                      "HOST_HEARTBEAT", "POSITION_UPDATE", "URL_CHANGE",    "REQUEST_SYNC",
                                      "OFFER",         "REACTION",       "PLAYBACK_ACK"};
    const std::string type = kTypes[in_.ConsumeIntegralInRange<std::size_t>(0, std::size(kTypes) - 1)];
    json::object object{{"type", type}};
    if (type == "UPDATE_USERNAME") object["username"] = in_.ConsumeRandomLengthString(80);
    if (type == "TOGGLE_GUEST_CONTROL") object["enabled"] = in_.ConsumeBool();
    if (type == "TRANSFER_HOST" || type == "OFFER" || type == "PLAYBACK_ACK") {
      const std::string target = user_name(in_.ConsumeIntegralInRange<int>(0, kUsers));  // one is nobody
      object[type == "TRANSFER_HOST" ? "targetUserId" : "to"] = target;
    }
    if (type == "PLAY_PAUSE") object["control"] = in_.ConsumeBool() ? "play" : "pause";
    if (type == "PLAY_PAUSE" || type == "SEEK" || type == "HOST_HEARTBEAT" || type == "POSITION_UPDATE" ||
        type == "URL_CHANGE") {
      if (type == "SEEK" || type == "HOST_HEARTBEAT" || in_.ConsumeBool()) object["currentTime"] = time_value();
      if (in_.ConsumeBool()) object["isPlaying"] = in_.ConsumeBool();
      if (in_.ConsumeBool()) object["eventTimestamp"] = static_cast<double>(now_);
    }
    if (type == "URL_CHANGE") {
      object["url"] = in_.ConsumeBool() ? "https://www.netflix.com/watch/" + std::to_string(user())
                                        : in_.ConsumeRandomLengthString(64);
    }
    if (in_.ConsumeBool()) object["seq"] = 77;  // the client's own seq is never passed on
    if (std::optional<proto::Frame> parsed = parse(object)) {
      apply(room::FrameInput{conn_name(c), node_name(c), std::move(*parsed)});
    }
  }

  // Text from the input through the frame parser: what a client can send after JOIN.
  void raw_frame() {
    const int c = connection();
    auto result = proto::parse(in_.ConsumeRandomLengthString(256));
    auto* frame = std::get_if<proto::Frame>(&result);
    if (frame == nullptr || std::holds_alternative<proto::Join>(frame->body)) return;
    apply(room::FrameInput{conn_name(c), node_name(c), std::move(*frame)});
  }

  void tick() {
    apply(room::TickInput{});
    // Nothing is due after a tick, and resolving again changes nothing (room.hpp).
    const std::optional<room::Millis> next = room::next_deadline(state_);
    FUZZ_CHECK(!next || *next > now_);
    const room::RoomState before = state_;
    const room::Effects again = apply(room::TickInput{});
    FUZZ_CHECK(!again.changed && again.frames.empty() && again.audit.empty() && again.closes.empty());
    FUZZ_CHECK(state_ == before);
  }

  room::Effects apply(const room::Input& input) {
    const room::RoomState before = state_;
    room::Effects fx = room::apply(state_, input, now_, settings_);
    check(before, input, fx);
    return fx;
  }

  void check(const room::RoomState& before, const room::Input& input, const room::Effects& fx) {
    const room::RoomState& s = state_;
    const bool is_join = std::holds_alternative<room::JoinInput>(input);
    const bool was_live = before.exists && !before.archived;
    const bool live = s.exists && !s.archived;

    FUZZ_CHECK(fx.changed || s == before);
    FUZZ_CHECK(is_join == (fx.join != room::JoinOutcome::none));
    if (!was_live && !is_join) FUZZ_CHECK(s == before);  // an archived room ignores all but a JOIN
    FUZZ_CHECK(!fx.archived || s.archived);
    if (was_live && s.archived) FUZZ_CHECK(fx.archived);

    // Sequence numbers: a room created by this input starts from 0.
    const std::uint64_t base = (!was_live && live) ? 0 : before.seq;
    std::uint64_t expected_seq = base;
    for (const room::OutFrame& out : fx.frames) {
      const json::value* type = out.frame.if_contains("type");
      FUZZ_CHECK(type != nullptr && type->is_string());
      for (const room::ConnId& to : out.recipients) FUZZ_CHECK(!to.empty());
      const json::value* seq = out.frame.if_contains("seq");
      if (out.sequenced) {
        ++expected_seq;
        FUZZ_CHECK(seq != nullptr && seq->is_uint64() && seq->get_uint64() == expected_seq);
      } else if (type->get_string() != "ROOM_STATE") {
        FUZZ_CHECK(seq == nullptr);
      }
      // What the node serializes once and sends is JSON that reads back the same.
      const std::string text = json::serialize(out.frame);
      json::error_code ec;
      const json::value back = json::parse(text, ec);
      if (ec || !fuzz::same_json(back, out.frame)) std::fprintf(stderr, "frame: %s\n", text.c_str());
      FUZZ_CHECK(!ec && fuzz::same_json(back, out.frame));
    }
    FUZZ_CHECK(expected_seq == s.seq);
    for (const room::AuditRecord& record : fx.audit) {
      FUZZ_CHECK(record.room_id == s.room_id && record.seq <= s.seq && record.at == now_);
    }

    if (s.archived) {
      FUZZ_CHECK(s.members.empty() && !s.gate && !s.host_grace_deadline && !s.empty_deadline);
    }
    if (live) check_live_room();

    // The persistence format keeps everything, also through its text.
    const room::RoomState restored = room::from_json(json::parse(json::serialize(room::to_json(s))));
    FUZZ_CHECK(restored == s);
  }

  void check_live_room() {
    const room::RoomState& s = state_;
    std::set<std::string> users;
    std::set<std::string> conns;
    for (const room::Member& member : s.members) {
      FUZZ_CHECK(!member.user_id.empty() && !member.conn.empty());
      FUZZ_CHECK(users.insert(member.user_id).second);
      FUZZ_CHECK(conns.insert(member.conn).second);
    }
    FUZZ_CHECK(s.members.size() <= settings_.max_room_members);
    FUZZ_CHECK(!s.host_user_id.empty());
    FUZZ_CHECK(users.count(s.host_user_id) == 1 || s.host_grace_deadline || s.members.empty());
    FUZZ_CHECK(!s.host_grace_deadline || *s.host_grace_deadline > now_);
    FUZZ_CHECK(s.members.empty() == s.empty_deadline.has_value());
    FUZZ_CHECK(s.members.empty() == s.empty_since.has_value());
    if (s.gate) {
      const room::Gate& gate = *s.gate;
      FUZZ_CHECK(!s.members.empty());
      FUZZ_CHECK(gate.id < s.next_gate_id && gate.deadline > now_);
      std::set<std::string> expected;
      for (const std::string& id : gate.expected) {
        FUZZ_CHECK(users.count(id) == 1);
        FUZZ_CHECK(expected.insert(id).second);
      }
      std::set<std::string> ready;
      for (const std::string& id : gate.ready) {
        FUZZ_CHECK(expected.count(id) == 1);
        FUZZ_CHECK(ready.insert(id).second);
      }
      FUZZ_CHECK(gate.ready.size() < quorum(gate.expected.size()));
    }
  }

  FuzzedDataProvider& in_;
  room::Settings settings_;
  room::RoomState state_;
  room::Millis now_ = 1'700'000'000'000;
  std::uint64_t counter_ = 0;
  std::map<std::string, std::string> tokens_;  // userId -> its seat's last session token
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Program program(in);
  program.run();
  return 0;
}
