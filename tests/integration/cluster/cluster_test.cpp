// The cluster's building blocks: key encoding, envelopes, commit plans (no services), and the
// Lua scripts against the real test Redis (scripts/services start). The node itself is tested
// end to end in tests/e2e-cluster/.
#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/engine/redis/change.hpp"
#include "core/engine/redis/commit.hpp"
#include "core/engine/redis/envelope.hpp"
#include "core/engine/redis/keys.hpp"
#include "core/engine/redis/scripts.hpp"
#include "core/redis/connection.hpp"
#include "tests/integration/fixtures.hpp"

using namespace std::chrono_literals;
using tandem::engine::redis::Commit;
using tandem::engine::redis::Keys;
using tandem::redis::Reply;
namespace cluster = tandem::engine::redis;
namespace room = tandem::room;

namespace {

// A synchronous client for the tests: one connection, commands run to completion.
class SyncRedis {
 public:
  explicit SyncRedis(const tandem::testing::RedisFixture& fixture) : connection_(io_) {
    tandem::redis::ConnectOptions options;
    options.host = fixture.host();
    options.port = fixture.port();
    std::optional<std::optional<tandem::redis::Failure>> outcome;
    connection_.connect(options, [&](std::optional<tandem::redis::Failure> f) { outcome = std::move(f); });
    REQUIRE(run_until([&] { return outcome.has_value(); }));
    REQUIRE_FALSE(outcome->has_value());
  }

  Reply operator()(std::vector<std::string> args) {
    std::optional<Reply> reply;
    connection_.command(std::move(args), [&](Reply r) { reply = std::move(r); });
    REQUIRE(run_until([&] { return reply.has_value(); }));
    return *reply;
  }

  Reply eval(const cluster::Script& script, std::vector<std::string> args) {
    std::vector<std::string> full{"EVAL", std::string(script.source)};
    full.insert(full.end(), args.begin(), args.end());
    return (*this)(std::move(full));
  }

 private:
  bool run_until(const std::function<bool()>& done) {
    auto work = boost::asio::make_work_guard(io_);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(deadline - now);
    }
    return true;
  }

  boost::asio::io_context io_;
  tandem::redis::Connection connection_;
};

room::Settings settings() { return room::Settings{}; }

room::JoinInput join(const std::string& room_id, const std::string& user, const std::string& node, int n) {
  room::JoinInput in;
  in.conn = node + "/" + std::to_string(n);
  in.node_id = node;
  in.client_addr = "127.0.0.1";
  in.join.room_id = room_id;
  in.join.user_id = user;
  in.peer_id = "peer" + std::to_string(n);
  in.session_token = std::string(32, 'a');
  in.pin_salt = "00";
  return in;
}

tandem::proto::Frame proto_relay(const std::string& type) {
  tandem::proto::Frame f;
  f.type = type;
  f.body = tandem::proto::Relay{boost::json::object{{"type", type}, {"emoji", "wave"}}};
  return f;
}

tandem::proto::Frame proto_leave() {
  tandem::proto::Frame f;
  f.type = "LEAVE";
  f.body = tandem::proto::Leave{};
  return f;
}

struct Applied {
  room::RoomState state;
  Commit commit;
};

// Applies `input` to `state` and plans its commit against `version`.
Applied apply(room::RoomState state, const room::Input& input, std::uint64_t version, room::Millis now = 1000) {
  const auto before = cluster::member_nodes(state);
  auto fx = room::apply(state, input, now, settings());
  int uid = 0;
  Commit c = cluster::plan_commit(state, before, fx, version, now, "n1", [&] { return "n1-" + std::to_string(++uid); });
  return {std::move(state), std::move(c)};
}

}  // namespace

TEST_CASE("hex-encoded ids never alias another key", "[cluster]") {
  const Keys keys("p:");
  CHECK(cluster::hex("a:b") == "613a62");
  CHECK(keys.room("x:rooms") != keys.room("x") + ":rooms");
  CHECK(keys.node_rooms("a") != keys.node("a:rooms"));
  CHECK(keys.room("{*}/") == "p:room:7b2a7d2f");
  CHECK(cluster::node_of("n1~abc/42") == "n1~abc");
  CHECK(cluster::node_of("nonsense").empty());
}

TEST_CASE("an envelope carries frames, closes, version and state, and the frames as they are sent", "[cluster]") {
  room::RoomState state;
  state.room_id = "r";
  auto fx = room::apply(state, join("r", "u1", "n1", 1), 1000, settings());
  const std::string text = boost::json::serialize(room::to_json(state));
  fx.closes.push_back(room::Close{"n2/7", 4001, "replaced"});
  const auto encoded = cluster::encode_envelope("r", 5, 1234, fx.frames, fx.closes, text);
  const auto env = cluster::decode_envelope(encoded);
  CHECK(env.room_id == "r");
  CHECK(env.version == 5);
  CHECK(env.sent_at == 1234);
  REQUIRE(env.frames.size() == fx.frames.size());
  CHECK(env.frames[0].to == fx.frames[0].recipients);
  CHECK(boost::json::parse(*env.frames[0].text) == boost::json::value(fx.frames[0].frame));
  // The frames follow the JSON head unescaped, the first one right after the line feed.
  const auto newline = encoded.find('\n');
  REQUIRE(newline != std::string::npos);
  CHECK(encoded.compare(newline + 1, env.frames[0].text->size(), *env.frames[0].text) == 0);
  CHECK(encoded.find("\\\"type\\\"") == std::string::npos);
  REQUIRE(env.closes.size() == 1);
  CHECK(env.closes[0].code == 4001);
  REQUIRE(env.state);
  CHECK(*env.state == state);
  // A relay has no version and no state.
  const auto relay = cluster::decode_envelope(cluster::encode_envelope("r", 0, 1, fx.frames, {}, {}));
  CHECK(relay.version == 0);
  CHECK_FALSE(relay.state);
  CHECK_THROWS_AS(cluster::decode_envelope("[1]"), std::invalid_argument);
}

TEST_CASE("an envelope whose frame lengths do not add up to its tail is malformed", "[cluster]") {
  const auto good = cluster::decode_envelope(R"({"r":"1","t":1,"f":[[["n/1"],2],[["n/2"],3,1]],"c":[]})" "\n{}[1]");
  REQUIRE(good.frames.size() == 2);
  CHECK(*good.frames[0].text == "{}");
  CHECK(*good.frames[1].text == "[1]");
  CHECK(good.frames[1].sequenced);
  // Longer than what follows, bytes left over, a negative length.
  CHECK_THROWS_AS(cluster::decode_envelope(R"({"r":"1","t":1,"f":[[["n/1"],6]],"c":[]})" "\n{}"), std::invalid_argument);
  CHECK_THROWS_AS(cluster::decode_envelope(R"({"r":"1","t":1,"f":[[["n/1"],2]],"c":[]})" "\n{}x"), std::invalid_argument);
  CHECK_THROWS_AS(cluster::decode_envelope(R"({"r":"1","t":1,"f":[[["n/1"],-2]],"c":[]})" "\n{}"), std::invalid_argument);
  // The form of earlier releases: no tail, each text a JSON string in the head.
  const auto old = cluster::decode_envelope(R"({"r":"1","t":1,"f":[[["n/1"],"{\"type\":\"PONG\"}"]],"c":[]})");
  REQUIRE(old.frames.size() == 1);
  CHECK(*old.frames[0].text == R"({"type":"PONG"})");
}

TEST_CASE("an advance envelope carries seq and last activity instead of the state", "[cluster]") {
  room::RoomState state;
  state.room_id = "r";
  room::apply(state, join("r", "u1", "n1", 1), 1000, settings());
  auto fx = room::apply(state, room::FrameInput{"n1/1", "n1", proto_relay("REACTION")}, 2000, settings());
  REQUIRE(fx.frames.size() == 1);
  const auto c = cluster::plan_advance(state, fx, 4, 2000);
  REQUIRE(c.advance);
  CHECK(c.state.empty());
  CHECK(c.target_nodes == std::vector<std::string>{"n1"});
  const auto env = cluster::decode_envelope(c.envelope);
  CHECK(env.version == 5);
  CHECK_FALSE(env.state);
  REQUIRE(env.advance);
  CHECK(env.advance->seq == state.seq);
  CHECK(env.advance->last_activity == 2000);
  CHECK(c.envelope.find("\"s\"") == std::string::npos);
  // A committed envelope with neither a state nor an advance is malformed.
  CHECK_THROWS_AS(cluster::decode_envelope(R"({"r":"1","v":3,"t":1,"f":[],"c":[]})"), std::invalid_argument);
  CHECK_THROWS_AS(cluster::decode_envelope(R"({"r":"1","v":3,"t":1,"f":[],"c":[],"q":-1,"a":5})"),
                  std::invalid_argument);
}

TEST_CASE("a stored room is its state with the advances since it was written", "[cluster]") {
  room::RoomState state;
  state.room_id = "r";
  room::apply(state, join("r", "u1", "n1", 1), 1000, settings());
  const std::string text = boost::json::serialize(room::to_json(state));
  CHECK_FALSE(cluster::stored_room("", "7", "9"));
  CHECK(*cluster::stored_room(text, "", "") == state);
  const auto advanced = cluster::stored_room(text, std::to_string(state.seq + 3), "5000");
  REQUIRE(advanced);
  CHECK(advanced->seq == state.seq + 3);
  CHECK(advanced->last_activity == 5000);
  CHECK_THROWS(cluster::stored_room(text, "7x", ""));
  CHECK_THROWS(cluster::stored_room(text, "", "-"));
}

// Found by tests/fuzz/envelope_fuzz.cpp: a negative version was wrapped around to 2^64 - 75602000
// (ahead of every real version of the room), and a close code beyond 65535 was cut to 16 bits.
TEST_CASE("an envelope with a negative version or an out-of-range close code is malformed", "[cluster]") {
  CHECK_THROWS_AS(cluster::decode_envelope(R"({"r":"1","v":-75602000,"f":[],"c":[],"s":null})"),
                  std::invalid_argument);
  CHECK_THROWS_AS(cluster::decode_envelope(R"({"r":"1","t":1,"f":[],"c":[["n/1",65546,"x"]]})"),
                  std::invalid_argument);
  const auto env = cluster::decode_envelope(R"({"r":"1","t":1,"f":[],"c":[["n/1",4001,"x"]]})");
  REQUIRE(env.closes.size() == 1);
  CHECK(env.closes[0].code == 4001);
}

TEST_CASE("a commit plan targets the nodes of members before and after and of recipients", "[cluster]") {
  room::RoomState s;
  s.room_id = "r";
  auto a = apply(s, join("r", "u1", "n1", 1), 0);
  CHECK(a.commit.nodes_added == std::vector<std::string>{"n1"});
  CHECK(a.commit.target_nodes == std::vector<std::string>{"n1"});
  auto b = apply(a.state, join("r", "u2", "n2", 1), 1);
  CHECK(b.commit.nodes_added == std::vector<std::string>{"n2"});
  CHECK(b.commit.target_nodes == (std::vector<std::string>{"n1", "n2"}));
  CHECK(b.commit.audit.size() == 1);
  // The n1 member leaves: n1 drops out of the index but still gets the envelope (its USER_LEFT).
  auto c = apply(b.state, room::FrameInput{"n1/1", "n1", proto_leave()}, 2);
  CHECK(c.commit.nodes_removed == std::vector<std::string>{"n1"});
  CHECK(c.commit.target_nodes == (std::vector<std::string>{"n1", "n2"}));
}

TEST_CASE("departures applied one after another make one commit with both, in order", "[cluster]") {
  room::RoomState s;
  s.room_id = "r";
  for (int n = 1; n <= 3; ++n) room::apply(s, join("r", "u" + std::to_string(n), "n1", n), 1000, settings());
  const auto nodes_before = cluster::member_nodes(s);
  const room::Input first = room::DisconnectInput{"n1/1", false};
  const room::Input second = room::DisconnectInput{"n1/2", false};
  auto fx = room::apply(s, first, 2000, settings());
  cluster::append_effects(fx, room::apply(s, second, 2000, settings()));
  REQUIRE(s.members.size() == 1);
  CHECK(fx.changed);
  CHECK_FALSE(fx.archived);
  // USER_LEFT of u1 (to u2 and u3), then of u2 (to u3): consecutive seqs, the audit in the same order.
  std::vector<std::string> left;
  std::vector<std::int64_t> seqs;
  for (const auto& f : fx.frames) {
    if (f.frame.at("type").as_string() != "USER_LEFT") continue;
    left.emplace_back(f.frame.at("userId").as_string());
    seqs.push_back(f.frame.at("seq").to_number<std::int64_t>());
  }
  CHECK(left == std::vector<std::string>{"u1", "u2"});
  REQUIRE(seqs.size() == 2);
  CHECK(seqs[1] == seqs[0] + 1);
  std::vector<std::string> audited;
  for (const auto& a : fx.audit) audited.push_back(a.user_id);
  CHECK(audited == std::vector<std::string>{"u1", "u2"});
  int uid = 0;
  const Commit c = cluster::plan_commit(s, nodes_before, fx, 3, 2000, "n1", [&] { return "n1-" + std::to_string(++uid); });
  CHECK(c.audit.size() == 2);
  CHECK(c.expected_version == 3);
}

TEST_CASE("a departure is a LEAVE, a disconnect or a JOIN's switch, and only a disconnect for good is folded", "[cluster]") {
  const room::Input leave = room::FrameInput{"n1/1", "n1", proto_leave()};
  const room::Input relay = room::FrameInput{"n1/1", "n1", proto_relay("REACTION")};
  const room::Input closed = room::DisconnectInput{"n1/1", false};
  const room::Input switched = room::DisconnectInput{"n1/1", true};
  CHECK(cluster::departs(leave));
  CHECK(cluster::departs(closed));
  CHECK(cluster::departs(switched));
  CHECK_FALSE(cluster::departs(relay));
  CHECK(cluster::departure(closed) != nullptr);
  CHECK(cluster::departure(switched) == nullptr);
  CHECK(cluster::departure(leave) == nullptr);
}

TEST_CASE("the status summary changes only with what /status shows, and renders the extrapolated position", "[cluster]") {
  room::RoomState s;
  s.room_id = "r";
  room::apply(s, join("r", "u1", "n1", 1), 1000, settings());
  s.is_playing = true;
  s.current_time = 10;
  s.position_at = 5000;
  const auto one = cluster::status_summary(s);
  s.current_time = 12;
  s.position_at = 7000;  // the same playback, reported later
  CHECK(cluster::status_summary(s) == one);
  const auto entry = cluster::render_status_entry(one, 9000);
  CHECK(entry.members == 1);
  CHECK(entry.addrs == std::vector<std::string>{"127.0.0.1"});
  const auto json = boost::json::parse(entry.json).as_object();
  CHECK(json.at("currentTime").as_double() == Approx(14.0));
  CHECK(json.at("connectionCount").to_number<int>() == 1);
}

TEST_CASE("commit script: compare-and-set, index, deadline, audit, publish, a stale version changes nothing", "[cluster][redis]") {
  tandem::testing::RedisFixture fixture;
  SyncRedis redis(fixture);
  const Keys keys(fixture.prefix());
  room::RoomState s;
  s.room_id = "movie: night";
  auto a = apply(s, join(s.room_id, "u1", "n1", 1), 0);
  auto reply = redis.eval(cluster::commit_script(), cluster::commit_arguments(keys, s.room_id, a.commit, 60000, 3600000));
  REQUIRE(reply.type == Reply::Type::array);
  CHECK(reply.elements[0].integer == 1);
  CHECK(reply.elements[1].integer == 1);
  CHECK(redis({"HGET", keys.room(s.room_id), "v"}).text == "1");
  CHECK(redis({"SISMEMBER", keys.node_rooms("n1"), s.room_id}).integer == 1);
  CHECK(redis({"XLEN", keys.audit()}).integer == 2);  // ROOM_CREATED, USER_JOINED
  CHECK(redis({"HEXISTS", keys.status(), s.room_id}).integer == 1);

  // Another node committed first: the same version again is refused with the stored state.
  auto again = redis.eval(cluster::commit_script(), cluster::commit_arguments(keys, s.room_id, a.commit, 60000, 3600000));
  REQUIRE(again.elements.size() == 5);  // [0, version, s, q, a]
  CHECK(again.elements[3].text.empty());
  CHECK(again.elements[0].integer == 0);
  CHECK(again.elements[1].integer == 1);
  CHECK(room::from_json(boost::json::parse(again.elements[2].text)) == a.state);
  CHECK(redis({"XLEN", keys.audit()}).integer == 2);

  // The last member leaves: the room ends, a tombstone keeps the version with a TTL.
  auto b = apply(a.state, room::FrameInput{"n1/1", "n1", proto_leave()}, 1);
  reply = redis.eval(cluster::commit_script(), cluster::commit_arguments(keys, s.room_id, b.commit, 60000, 3600000));
  CHECK(reply.elements[0].integer == 1);
  CHECK(redis({"HGET", keys.room(s.room_id), "v"}).text == "2");
  CHECK(redis({"HEXISTS", keys.room(s.room_id), "s"}).integer == 0);
  CHECK(redis({"PTTL", keys.room(s.room_id)}).integer > 0);
  CHECK(redis({"EXISTS", keys.node_rooms("n1")}).integer == 0);
  CHECK(redis({"HEXISTS", keys.status(), s.room_id}).integer == 0);
  CHECK(redis({"ZSCORE", keys.deadlines(), s.room_id}).type == Reply::Type::nil);

  // Seeding writes a node's copy only where the room is absent and not newer.
  auto seeded = redis.eval(cluster::seed_script(), cluster::seed_arguments(keys, s.room_id, 1, "{}", {"n1"}, {}, "{}"));
  CHECK(seeded.integer == 0);  // the tombstone (version 2) is newer
  seeded = redis.eval(cluster::seed_script(), cluster::seed_arguments(keys, "other", 7, "{}", {"n3"}, 99, "{}"));
  CHECK(seeded.integer == 1);
  CHECK(redis({"SISMEMBER", keys.node_rooms("n3"), "other"}).integer == 1);
  CHECK(redis({"ZSCORE", keys.deadlines(), "other"}).text == "99");
}

TEST_CASE("advance script: a relay commits version, seq and last activity, never the state", "[cluster][redis]") {
  tandem::testing::RedisFixture fixture;
  SyncRedis redis(fixture);
  const Keys keys(fixture.prefix());
  room::RoomState s;
  s.room_id = "relay room";
  auto a = apply(s, join(s.room_id, "u1", "n1", 1), 0);
  REQUIRE(redis.eval(cluster::commit_script(), cluster::commit_arguments(keys, s.room_id, a.commit, 60000, 3600000))
              .elements[0]
              .integer == 1);
  const std::string stored = redis({"HGET", keys.room(s.room_id), "s"}).text;

  room::RoomState state = a.state;
  std::vector<Commit> advances;
  for (int i = 0; i < 3; ++i) {
    auto fx = room::apply(state, room::FrameInput{"n1/1", "n1", proto_relay("REACTION")}, 2000 + i, settings());
    advances.push_back(cluster::plan_advance(state, fx, 1 + i, 2000 + i));
  }
  for (const auto& c : advances) {
    const auto reply = redis.eval(cluster::advance_script(), cluster::advance_arguments(keys, s.room_id, c, 60000));
    REQUIRE(reply.type == Reply::Type::array);
    CHECK(reply.elements[0].integer == 1);
  }
  CHECK(redis({"HGET", keys.room(s.room_id), "v"}).text == "4");
  CHECK(redis({"HGET", keys.room(s.room_id), "s"}).text == stored);  // not rewritten
  CHECK(redis({"HGET", keys.room(s.room_id), "q"}).text == std::to_string(state.seq));
  CHECK(redis({"HGET", keys.room(s.room_id), "a"}).text == "2002");
  // What Redis holds: the relays' seq and last activity; the sender's last_seen is not committed
  // by an advance (strict identity commits it on its own).
  room::RoomState committed = state;
  committed.members[0].last_seen = a.state.members[0].last_seen;

  // A stale advance changes nothing and answers the stored room, advanced.
  const auto stale = redis.eval(cluster::advance_script(), cluster::advance_arguments(keys, s.room_id, advances[0], 60000));
  REQUIRE(stale.elements.size() == 5);
  CHECK(stale.elements[0].integer == 0);
  CHECK(stale.elements[1].integer == 4);
  CHECK(*cluster::stored_room(stale.elements[2].text, stale.elements[3].text, stale.elements[4].text) == committed);
  // commit_script answers a stale version the same way.
  const auto stale_commit =
      redis.eval(cluster::commit_script(), cluster::commit_arguments(keys, s.room_id, a.commit, 60000, 3600000));
  REQUIRE(stale_commit.elements.size() == 5);
  CHECK(*cluster::stored_room(stale_commit.elements[2].text, stale_commit.elements[3].text,
                              stale_commit.elements[4].text) == committed);

  // The next full commit writes the state and drops the advance fields.
  room::RoomState joined = state;
  auto c = apply(joined, join(s.room_id, "u2", "n2", 2), 4);
  REQUIRE(redis.eval(cluster::commit_script(), cluster::commit_arguments(keys, s.room_id, c.commit, 60000, 3600000))
              .elements[0]
              .integer == 1);
  CHECK(redis({"HEXISTS", keys.room(s.room_id), "q"}).integer == 0);
  CHECK(redis({"HEXISTS", keys.room(s.room_id), "a"}).integer == 0);
  CHECK(room::from_json(boost::json::parse(redis({"HGET", keys.room(s.room_id), "s"}).text)) == c.state);
  // An advance on a room that has ended (a tombstone of the expected version) is refused.
  redis({"HSET", keys.room("gone"), "v", "1"});
  const auto on_nothing = redis.eval(cluster::advance_script(), cluster::advance_arguments(keys, "gone", advances[0], 60000));
  CHECK(on_nothing.elements[0].integer == 0);
  CHECK(redis({"HGET", keys.room("gone"), "v"}).text == "1");
}

TEST_CASE("short id script: one id per room, minted once, refreshed on every request", "[cluster][redis]") {
  tandem::testing::RedisFixture fixture;
  SyncRedis redis(fixture);
  const Keys keys(fixture.prefix());
  auto first = redis.eval(cluster::short_id_script(), {"1", keys.room_short_id("r/1"), "r/1", "60000",
                                                       keys.short_id_prefix(), "aaaaaaaa", "bbbbbbbb"});
  CHECK(first.elements[0].text == "aaaaaaaa");
  CHECK(first.elements[1].integer == 1);
  auto second = redis.eval(cluster::short_id_script(), {"1", keys.room_short_id("r/1"), "r/1", "60000",
                                                        keys.short_id_prefix(), "cccccccc"});
  CHECK(second.elements[0].text == "aaaaaaaa");
  CHECK(second.elements[1].integer == 0);
  // A taken candidate is skipped.
  auto other = redis.eval(cluster::short_id_script(), {"1", keys.room_short_id("r/2"), "r/2", "60000",
                                                       keys.short_id_prefix(), "aaaaaaaa", "dddddddd"});
  CHECK(other.elements[0].text == "dddddddd");
  CHECK(redis({"GET", keys.short_id("dddddddd")}).text == "r/2");
  // Without candidates (rate limited) and without an id: nothing.
  auto none = redis.eval(cluster::short_id_script(), {"1", keys.room_short_id("r/3"), "r/3", "60000", keys.short_id_prefix()});
  CHECK(none.elements[0].text.empty());
}
