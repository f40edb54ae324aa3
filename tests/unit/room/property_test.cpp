#include "room_fixture.hpp"

#include <boost/json/parse.hpp>

#include <map>
#include <random>
#include <set>

using namespace tandem::room;
using namespace tandem::room::testing;

// Random sequences of joins, leaves, disconnects, frames, ticks and node losses over a few rooms,
// driven like an engine would drive them, with the protocol's invariants checked after every
// single apply().
namespace {

struct Connection {
  std::string id;
  std::string node;
  std::optional<std::string> room;  // bound room, as the engine would track it
  bool closed = false;
};

struct Delivery {
  std::string room;
  std::uint64_t seq = 0;
};

class Simulation {
 public:
  explicit Simulation(std::uint64_t seed) : rng_(seed) {
    settings_.host_grace = 3000;
    settings_.ready_timeout = 2000;
    settings_.empty_ttl = 8000;
    settings_.stale_after = 2000;
    settings_.strict_identity = chance(0.5);
    settings_.max_room_members = chance(0.5) ? 4 : 50;
    for (const char* room : {"r0", "r1", "r2"}) rooms_[room] = RoomState{};
  }

  void run(int steps) {
    for (int i = 0; i < steps; ++i) step();
  }

  std::size_t applies() const { return applies_; }
  const std::map<std::string, std::size_t>& stats() const { return stats_; }
  std::size_t broadcasts() const { return broadcasts_; }
  std::size_t releases() const { return releases_; }

 private:
  std::mt19937_64 rng_;
  Settings settings_;
  Millis now_ = kStart;
  std::map<std::string, RoomState> rooms_;
  std::map<std::string, std::size_t> gates_closed_;  // per room incarnation
  std::vector<Connection> conns_;
  std::map<ConnId, Delivery> delivered_;
  int next_conn_ = 1;
  int tokens_ = 0;
  std::size_t applies_ = 0, broadcasts_ = 0, releases_ = 0;
  std::map<std::string, std::size_t> stats_;  // which paths the run reached

  void count(const Effects& fx) {
    for (const AuditRecord& r : fx.audit) {
      std::string key = r.type;
      if (const auto* reason = r.detail.if_contains("reason")) key += ":" + std::string(reason->as_string());
      if (const auto* takeover = r.detail.if_contains("takeover"); takeover && takeover->as_bool()) key += ":takeover";
      ++stats_[key];
    }
    for (const OutFrame& out : fx.frames) {
      if (type_of(out) == "ERROR") ++stats_["ERROR:" + std::string(out.frame.at("code").as_string())];
    }
    for (const Close& close : fx.closes) ++stats_["close:" + std::to_string(close.code)];
  }

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  template <class T>
  const T& pick_of(const std::vector<T>& items) { return items[static_cast<std::size_t>(pick(static_cast<int>(items.size())))]; }

  std::vector<Connection*> live(bool bound_only) {
    std::vector<Connection*> out;
    for (Connection& c : conns_) {
      if (!c.closed && (!bound_only || c.room)) out.push_back(&c);
    }
    return out;
  }

  Connection* find_conn(const ConnId& id) {
    for (Connection& c : conns_) {
      if (c.id == id) return &c;
    }
    return nullptr;
  }

  void step() {
    now_ += chance(0.05) ? 5000 : pick(700);
    const int action = pick(100);
    if (action < 25) {
      do_join();
    } else if (action < 70) {
      do_frame();
    } else if (action < 80) {
      do_disconnect();
    } else if (action < 97) {
      for (auto& [room, state] : rooms_) apply(room, TickInput{});
    } else if (action < 98) {
      do_node_lost();
    } else {
      const auto bound = live(true);
      if (!bound.empty()) apply(*bound.front()->room, SeenInput{bound.front()->id});
    }
  }

  void do_join() {
    Connection* conn = nullptr;
    const auto existing = live(false);
    if (existing.empty() || chance(0.4)) {
      const char* nodes[] = {"node-a", "node-b", "node-c"};
      const std::string node = nodes[pick(3)];
      conns_.push_back(Connection{node + "/" + std::to_string(next_conn_++), node, std::nullopt, false});
      conn = &conns_.back();
    } else {
      conn = existing[static_cast<std::size_t>(pick(static_cast<int>(existing.size())))];
    }
    const std::string room = "r" + std::to_string(pick(3));
    JoinInput input;
    input.conn = conn->id;
    input.node_id = conn->node;
    input.client_addr = "10.0.0." + std::to_string(pick(4));
    input.join.room_id = room;
    input.join.user_id = "u" + std::to_string(pick(8));
    if (chance(0.5)) input.join.username = "name" + std::to_string(pick(3));
    const int pin = pick(10);
    if (pin < 3) input.join.pin = "1";
    if (pin == 3) input.join.pin = "2";
    if (pin == 4) {
      input.join.pin = "{}";
      input.join.pin_invalid = true;
    }
    if (chance(0.3)) {
      const RoomState& state = rooms_[room];
      for (const Member& m : state.members) {
        if (m.user_id == input.join.user_id) input.join.token = m.session_token;
      }
    }
    char token[33];
    std::snprintf(token, sizeof token, "%032x", static_cast<unsigned>(++tokens_));
    input.peer_id = "peer-" + std::to_string(tokens_);
    input.session_token = token;
    input.pin_salt = "abcd";
    input.addr_blocked = chance(0.03);
    const std::optional<std::string> old_room = conn->room;
    input.same_socket_rejoin = old_room == room;
    const ConnId conn_id = conn->id;
    const Effects fx = apply(room, input);
    if (fx.join == JoinOutcome::joined && old_room && *old_room != room) {
      apply(*old_room, DisconnectInput{conn_id, true});
    }
  }

  std::string random_frame(const RoomState& state) {
    auto member = [&]() { return state.members.empty() ? std::string("ghost") : pick_of(state.members).user_id; };
    auto time = [&]() { return std::to_string(pick(4) == 0 ? 0 : pick(5000)) + "." + std::to_string(pick(10)); };
    switch (pick(18)) {
      case 0: return R"({"type":"PING","timestamp":1})";
      case 1: return chance(0.3) ? R"({"type":"LEAVE"})" : R"({"type":"READY"})";
      case 2: return R"({"type":"UPDATE_USERNAME","username":")" + member() + "\"}";
      case 3: return R"({"type":"TOGGLE_GUEST_CONTROL","enabled":)" + std::string(chance(0.5) ? "true" : "false") + "}";
      case 4: return R"({"type":"TRANSFER_HOST","targetUserId":")" + (chance(0.8) ? member() : "ghost") + "\"}";
      case 5: return R"({"type":"PLAY_PAUSE","control":")" + std::string(chance(0.5) ? "play" : "pause") + "\"" +
                     (chance(0.5) ? R"(,"currentTime":)" + time() : "") + "}";
      case 6:
      case 7: return R"({"type":"SEEK","currentTime":)" + time() + R"(,"isPlaying":)" + (chance(0.7) ? "true" : "false") + "}";
      case 8:
      case 9:
      case 10: return R"({"type":"READY"})";
      case 11: return R"({"type":"HOST_HEARTBEAT","currentTime":)" + time() + R"(,"isPlaying":true})";
      case 12: return R"({"type":"POSITION_UPDATE","currentTime":)" + time() + R"(,"isPlaying":)" + (chance(0.5) ? "true" : "false") + "}";
      case 13: return R"({"type":"URL_CHANGE","url":")" + std::string(chance(0.8) ? "https://www.netflix.com/w/" : "https://x/") +
                      std::to_string(pick(9)) + "\"}";
      case 14: return R"({"type":"REQUEST_SYNC"})";
      case 15: return R"({"type":"OFFER","to":")" + member() + R"(","offer":{"sdp":"v=0"}})";
      case 16: return R"({"type":"PLAYBACK_ACK","to":")" + member() + R"("})";
      default: return chance(0.5) ? R"({"type":"REACTION","emoji":"x"})" : R"({"type":"SEEK","currentTime":"bad"})";
    }
  }

  void do_frame() {
    const auto bound = live(true);
    if (bound.empty()) return;
    Connection* conn = bound[static_cast<std::size_t>(pick(static_cast<int>(bound.size())))];
    const std::string room = *conn->room;
    const std::string text = random_frame(rooms_[room]);
    proto::ParseResult parsed = proto::parse(text);
    INFO(text);
    REQUIRE(std::holds_alternative<proto::Frame>(parsed));
    apply(room, FrameInput{conn->id, conn->node, std::get<proto::Frame>(std::move(parsed))});
  }

  void do_disconnect() {
    const auto all = live(false);
    if (all.empty()) return;
    Connection* conn = all[static_cast<std::size_t>(pick(static_cast<int>(all.size())))];
    conn->closed = true;
    if (conn->room) apply(*conn->room, DisconnectInput{conn->id, false});
  }

  void do_node_lost() {
    const char* nodes[] = {"node-a", "node-b", "node-c"};
    const std::string node = nodes[pick(3)];
    for (Connection& c : conns_) {
      if (c.node == node) {
        c.closed = true;
        c.room.reset();
        delivered_.erase(c.id);
      }
    }
    for (auto& [room, state] : rooms_) apply(room, NodeLostInput{node});
  }

  Effects apply(const std::string& room, const Input& input) {
    RoomState& state = rooms_[room];
    const RoomState before = state;
    const Effects fx = tandem::room::apply(state, input, now_, settings_);
    ++applies_;
    count(fx);
    check(room, before, state, input, fx);
    return fx;
  }

  static std::set<ConnId> conns_of(const RoomState& state) {
    std::set<ConnId> out;
    for (const Member& m : state.members) out.insert(m.conn);
    return out;
  }

  void check(const std::string& room, const RoomState& before, RoomState& after, const Input& input, const Effects& fx) {
    INFO("room " << room << " at " << now_ << " input #" << input.index());
    if (before != after) CHECK(fx.changed);

    // seq: one per sequenced frame, in vector order; ROOM_STATE carries the latest.
    std::uint64_t seq = (before.exists && !before.archived) ? before.seq : 0;
    const std::set<ConnId> before_conns = conns_of(before);
    const std::set<ConnId> after_conns = conns_of(after);
    std::optional<ConnId> input_conn;
    if (const auto* join = std::get_if<JoinInput>(&input)) input_conn = join->conn;
    if (const auto* frame = std::get_if<FrameInput>(&input)) input_conn = frame->conn;
    std::size_t played = 0;
    for (const OutFrame& out : fx.frames) {
      const std::string type = type_of(out);
      if (out.sequenced) {
        ++broadcasts_;
        REQUIRE(out.frame.at("seq").as_uint64() == ++seq);
        if (type == "PLAY_PAUSE" && out.frame.at("userId") == "server") ++played;
      } else if (type == "ROOM_STATE") {
        CHECK(out.frame.at("seq").as_uint64() == seq);
        std::vector<std::string> users;
        for (const auto& u : out.frame.at("users").as_array()) users.emplace_back(u.at("userId").as_string());
        std::vector<std::string> members;
        for (const Member& m : after.members) members.push_back(m.user_id);
        CHECK(users == members);
      } else {
        CHECK_FALSE(out.frame.contains("seq"));
        CHECK(out.recipients.size() == 1);
      }
      for (const ConnId& recipient : out.recipients) {
        const bool member = before_conns.count(recipient) > 0 || after_conns.count(recipient) > 0;
        CHECK((member || (!out.sequenced && recipient == input_conn)));
        // Each member sees every broadcast of its room once, in order, without gaps.
        if (type == "ROOM_STATE") {
          delivered_[recipient] = Delivery{room, out.frame.at("seq").as_uint64()};
        } else if (out.sequenced) {
          const auto it = delivered_.find(recipient);
          INFO("recipient " << recipient << " of " << type);
          REQUIRE(it != delivered_.end());
          CHECK(it->second.room == room);
          CHECK(out.frame.at("seq").as_uint64() == it->second.seq + 1);
          it->second.seq = out.frame.at("seq").as_uint64();
        }
      }
    }
    if (after.exists) CHECK(after.seq == seq);

    // Audit.
    std::size_t released_played = 0;
    for (const AuditRecord& record : fx.audit) {
      CHECK(record.room_id == room);
      CHECK(record.at == now_);
      CHECK(record.seq <= after.seq);
      if (record.type == "GATE_RELEASED") {
        ++gates_closed_[room];
        ++releases_;
        if (record.detail.at("played").as_bool()) ++released_played;
      }
    }
    CHECK(played == released_played);

    // Bindings, as an engine tracks them from the effects. A closed socket still bound to a room
    // is then disconnected from it.
    std::vector<std::pair<ConnId, std::string>> disconnects;
    if (fx.unbound_conn) {
      if (Connection* c = find_conn(*fx.unbound_conn); c && c->room == room) c->room.reset();
    }
    if (fx.replaced_conn) {
      if (Connection* c = find_conn(*fx.replaced_conn)) c->room.reset();
    }
    if (fx.join == JoinOutcome::joined) {
      find_conn(std::get<JoinInput>(input).conn)->room = room;
    }
    for (const Close& close : fx.closes) {
      if (Connection* c = find_conn(close.conn)) {
        c->closed = true;
        if (c->room) disconnects.emplace_back(c->id, *c->room);
      }
    }
    std::set<ConnId> closing;
    for (const auto& [conn, bound_room] : disconnects) closing.insert(conn);

    // State invariants.
    if (after.exists && !after.archived) {
      std::set<std::string> ids, conns;
      for (const Member& m : after.members) {
        CHECK(ids.insert(m.user_id).second);
        CHECK(conns.insert(m.conn).second);
        const Connection* c = find_conn(m.conn);
        REQUIRE(c != nullptr);
        CHECK(c->room == room);
        CHECK((!c->closed || closing.count(c->id) == 1));
      }
      if (!after.members.empty()) {
        const bool host_present = ids.count(after.host_user_id) > 0;
        CHECK((host_present || (after.host_grace_deadline && now_ < *after.host_grace_deadline)));
      }
      if (after.gate) {
        CHECK_FALSE(after.members.empty());
        for (const std::string& id : after.gate->expected) CHECK(ids.count(id) == 1);
        for (const std::string& id : after.gate->ready) {
          CHECK(std::count(after.gate->expected.begin(), after.gate->expected.end(), id) == 1);
          CHECK(std::count(after.gate->ready.begin(), after.gate->ready.end(), id) == 1);
        }
      }
      if (std::holds_alternative<TickInput>(input)) {
        const std::optional<Millis> next = next_deadline(after);
        CHECK((!next || *next > now_));
      }
    }
    for (const Connection& c : conns_) {
      if (c.room == room && !c.closed) CHECK(after_conns.count(c.id) == 1);
    }
    // Every gate opened in this incarnation was closed exactly once, or is the open one.
    if (after.exists) CHECK(after.next_gate_id - 1 == gates_closed_[room] + (after.gate ? 1 : 0));

    // Persistence round-trips.
    CHECK(from_json(to_json(after)) == after);
    CHECK(from_json(boost::json::parse(boost::json::serialize(to_json(after)))) == after);

    if (fx.archived) {
      CHECK(after.members.empty());
      CHECK_FALSE(after.gate);
      after = RoomState{};
      gates_closed_[room] = 0;
    }

    // The replaced socket's close must not remove anyone.
    if (fx.replaced_conn) {
      const RoomState kept = after;
      const Effects closed = tandem::room::apply(after, DisconnectInput{*fx.replaced_conn, false}, now_, settings_);
      CHECK(count_type(closed, "USER_LEFT") == 0);
      CHECK(after.members == kept.members);
    }
    for (const auto& [conn, bound_room] : disconnects) {
      find_conn(conn)->room.reset();
      apply(bound_room, DisconnectInput{conn, false});
    }
  }
};

}  // namespace

TEST_CASE("random sequences keep every room invariant", "[room][property]") {
  std::size_t applies = 0, broadcasts = 0, releases = 0;
  std::map<std::string, std::size_t> stats;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    INFO("seed " << seed);
    Simulation simulation(seed);
    simulation.run(400);
    applies += simulation.applies();
    broadcasts += simulation.broadcasts();
    releases += simulation.releases();
    for (const auto& [key, n] : simulation.stats()) stats[key] += n;
  }
  CHECK(applies > 20'000);
  CHECK(broadcasts > 5'000);
  CHECK(releases > 100);
  // The runs reach every path the invariants are meant to cover.
  for (const char* path : {"ROOM_CREATED", "USER_JOINED", "USER_JOINED:takeover", "USER_LEFT:leave", "USER_LEFT:switch",
                           "USER_LEFT:rejoin", "USER_LEFT:disconnect", "USER_LEFT:node_lost", "HOST_CHANGED:leave",
                           "HOST_CHANGED:grace_expired", "HOST_CHANGED:transfer", "HOST_CHANGED:join",
                           "GATE_RELEASED:quorum", "GATE_RELEASED:timeout", "GATE_RELEASED:cancelled",
                           "ROOM_ARCHIVED:empty", "ROOM_ARCHIVED:expired", "PIN_REJECTED:bad_pin",
                           "PIN_REJECTED:invalid_pin", "PIN_REJECTED:too_many_attempts", "ERROR:room_full",
                           "ERROR:identity_in_use", "ERROR:replaced", "ERROR:not_allowed", "ERROR:bad_url",
                           "ERROR:bad_target", "ERROR:bad_field", "ERROR:invalid_pin", "close:1000", "close:4001",
                           "close:4003", "close:1008"}) {
    INFO(path);
    CHECK(stats[path] > 0);
  }
}
