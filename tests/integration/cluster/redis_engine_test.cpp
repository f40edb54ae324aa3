// The Redis engine as a whole against the real test Redis: two engines sharing a key prefix are
// two nodes of one cluster. Their link, committer and router are exercised through the Engine
// interface, with a recording host in place of the node.
#include <catch2/catch.hpp>
#include <hiredis/hiredis.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config.hpp"
#include "core/engine/redis/keys.hpp"
#include "core/engine/redis/redis_engine.hpp"
#include "core/metrics/metrics.hpp"
#include "core/store/migrator.hpp"
#include "core/store/postgres_connection.hpp"
#include "core/util/duration.hpp"
#include "tests/integration/fixtures.hpp"

using namespace std::chrono_literals;
namespace engine = tandem::engine;
namespace room = tandem::room;

namespace {

// Records the frames delivered to this node (type and seq per recipient), thread-safe.
class RecordingHost final : public engine::EngineHost {
 public:
  struct Received {
    room::ConnId to;
    std::string type;
    std::string user_id;
    std::optional<std::int64_t> seq;
    std::string code;  // ERROR frames
  };

  void deliver(const engine::Delivery& delivery) override {
    std::lock_guard lock(mutex_);
    threads_.insert(std::this_thread::get_id());
    for (const auto& frame : delivery.frames) {
      const auto object = boost::json::parse(*frame.text).as_object();
      for (const auto& to : frame.to) {
        Received r{to, std::string(object.at("type").as_string()), {}, {}};
        if (const auto* u = object.if_contains("userId"); u && u->is_string()) r.user_id = std::string(u->as_string());
        if (const auto* s = object.if_contains("seq")) r.seq = s->to_number<std::int64_t>();
        if (const auto* c = object.if_contains("code"); c && c->is_string()) r.code = std::string(c->as_string());
        received_.push_back(std::move(r));
      }
    }
    changed_.notify_all();
  }

  // Waits until a frame of `type` (from `user`, when given) reached `to`; returns it.
  std::optional<Received> wait_for(const room::ConnId& to, const std::string& type, const std::string& user = {}) {
    std::unique_lock lock(mutex_);
    std::optional<Received> found;
    changed_.wait_for(lock, 5s, [&] {
      for (const auto& r : received_) {
        if (r.to == to && r.type == type && (user.empty() || r.user_id == user)) {
          found = r;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  // The codes of the ERROR frames delivered so far, to any connection.
  std::vector<std::string> error_codes() {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& r : received_) {
      if (r.type == "ERROR") out.push_back(r.code);
    }
    return out;
  }

  // The threads deliver() ran on.
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

  std::vector<std::int64_t> seqs(const room::ConnId& to) {
    std::lock_guard lock(mutex_);
    std::vector<std::int64_t> out;
    for (const auto& r : received_) {
      if (r.to == to && r.seq && r.type != "ROOM_STATE") out.push_back(*r.seq);
    }
    return out;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Received> received_;
  std::set<std::thread::id> threads_;
};

tandem::config::Config cluster_config(const tandem::testing::RedisFixture& redis, const std::string& node_id) {
  tandem::config::Config config;
  config.server.node_id = node_id;
  tandem::config::Redis r;
  r.host = redis.host();
  r.port = redis.port();
  r.key_prefix = redis.prefix();
  r.connect_timeout = 2s;
  config.redis = r;
  tandem::config::Postgres pg;  // the audit copier's writes may fail here: they are retried
  if (const char* host = std::getenv("TANDEM_TEST_PG_HOST")) pg.host = host;
  if (const char* port = std::getenv("TANDEM_TEST_PG_PORT")) pg.port = static_cast<std::uint16_t>(std::atoi(port));
  if (const char* db = std::getenv("TANDEM_TEST_PG_DB")) pg.database = db;
  if (const char* user = std::getenv("TANDEM_TEST_PG_USER")) pg.user = user;
  if (const char* password = std::getenv("TANDEM_TEST_PG_PASSWORD")) pg.password = password;
  config.postgres = pg;
  return config;
}

// One node: an engine, its host, its metrics.
struct TestNode {
  // With `loop`, the engine runs on that event loop (RedisEngine's host-loop mode), which the
  // test runs and stops before the node is destroyed.
  TestNode(const tandem::testing::RedisFixture& redis, const std::string& node_id,
           boost::asio::io_context* loop = nullptr)
      : TestNode(redis, cluster_config(redis, node_id), loop) {}
  TestNode(const tandem::testing::RedisFixture&, tandem::config::Config node_config,
           boost::asio::io_context* loop = nullptr)
      : config(std::move(node_config)), engine(config, registry, loop) {
    engine.start(host);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!engine.can_serve() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    REQUIRE(engine.can_serve());
  }
  ~TestNode() { engine.stop(2s); }

  room::ConnId conn(int n) const { return engine.instance() + "/" + std::to_string(n); }

  engine::Outcome submit(const std::string& room_id, room::Input input, const room::ConnId& origin) {
    std::promise<engine::Outcome> promise;
    auto result = promise.get_future();
    engine.submit(engine::Submission{room_id, std::move(input), origin},
                  [&promise](engine::Outcome o) { promise.set_value(o); });
    REQUIRE(result.wait_for(10s) == std::future_status::ready);
    return result.get();
  }

  // Submits without waiting; the outcome arrives in the future.
  std::future<engine::Outcome> submit_async(const std::string& room_id, room::Input input, const room::ConnId& origin) {
    auto promise = std::make_shared<std::promise<engine::Outcome>>();
    auto result = promise->get_future();
    engine.submit(engine::Submission{room_id, std::move(input), origin},
                  [promise](engine::Outcome o) { promise->set_value(o); });
    return result;
  }

  room::JoinInput join_input(const std::string& room_id, const std::string& user, int n, const std::string& addr,
                             std::optional<std::string> pin = std::nullopt) {
    room::JoinInput in;
    in.conn = conn(n);
    in.node_id = engine.instance();
    in.client_addr = addr;
    in.join.room_id = room_id;
    in.join.user_id = user;
    in.join.pin = std::move(pin);
    in.peer_id = "peer" + std::to_string(n);
    in.session_token = std::string(32, 'a');
    in.pin_salt = room::pin_salt_for(room_id);
    return in;
  }

  engine::Outcome join(const std::string& room_id, const std::string& user, int n) {
    room::JoinInput in;
    in.conn = conn(n);
    in.node_id = engine.instance();
    in.client_addr = "10.0.0." + std::to_string(n);
    in.join.room_id = room_id;
    in.join.user_id = user;
    in.peer_id = "peer" + std::to_string(n);
    in.session_token = std::string(32, 'a');
    in.pin_salt = std::string(32, 'b');
    return submit(room_id, std::move(in), conn(n));
  }

  tandem::config::Config config;
  tandem::metrics::Registry registry;
  RecordingHost host;
  engine::redis::RedisEngine engine;
};

tandem::proto::Frame play_frame() {
  tandem::proto::Frame frame;
  frame.type = "PLAY_PAUSE";
  frame.body = tandem::proto::PlayPause{true, 12.0, std::nullopt};
  return frame;
}

tandem::proto::Frame relay_frame() {
  tandem::proto::Frame frame;
  frame.type = "REACTION";
  frame.body = tandem::proto::Relay{boost::json::object{{"type", "REACTION"}, {"emoji", "wave"}}};
  return frame;
}

// HGET of one field of a room's hash in the test Redis ("" when absent).
std::string room_field(const tandem::testing::RedisFixture& redis, const std::string& room_id, const char* field) {
  redisContext* c = redisConnect(redis.host().c_str(), redis.port());
  REQUIRE(c != nullptr);
  REQUIRE(c->err == 0);
  const std::string key = engine::redis::Keys(redis.prefix()).room(room_id);
  auto* reply = static_cast<redisReply*>(redisCommand(c, "HGET %b %s", key.data(), key.size(), field));
  REQUIRE(reply != nullptr);
  std::string out = reply->type == REDIS_REPLY_STRING ? std::string(reply->str, reply->len) : std::string();
  freeReplyObject(reply);
  redisFree(c);
  return out;
}

// A new room with u1 (the host) on a and u2 on b, both connection 1, each seated and a told of b's.
std::string shared_room(TestNode& a, TestNode& b) {
  const std::string room_id = tandem::testing::unique_name("room-");
  REQUIRE(a.join(room_id, "u1", 1).seated);
  REQUIRE(b.join(room_id, "u2", 1).seated);
  REQUIRE(a.host.wait_for(a.conn(1), "USER_JOINED", "u2"));
  return room_id;
}

}  // namespace

TEST_CASE("relays are committed as advances: the stored state is not rewritten, seq goes on everywhere",
          "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  TestNode a(redis, "na");
  TestNode b(redis, "nb");
  const std::string room_id = shared_room(a, b);
  const std::string stored = room_field(redis, room_id, "s");
  REQUIRE_FALSE(stored.empty());

  // Relays from both nodes, interleaved: every one committed (sequenced), none rewrites `s`.
  for (int i = 0; i < 3; ++i) {
    CHECK(a.submit(room_id, room::FrameInput{a.conn(1), a.engine.instance(), relay_frame()}, a.conn(1)).broadcast);
    CHECK(b.submit(room_id, room::FrameInput{b.conn(1), b.engine.instance(), relay_frame()}, b.conn(1)).broadcast);
  }
  CHECK(room_field(redis, room_id, "s") == stored);
  const auto seq_after_relays = room_field(redis, room_id, "q");
  REQUIRE_FALSE(seq_after_relays.empty());

  // A third node that never saw the room reads it from Redis: the state with the advances.
  TestNode c(redis, "nc");
  REQUIRE(c.join(room_id, "u3", 1).seated);
  const auto joined = a.host.wait_for(a.conn(1), "USER_JOINED", "u3");
  REQUIRE(joined);
  CHECK(joined->seq == std::stoll(seq_after_relays) + 1);
  CHECK(room_field(redis, room_id, "q").empty());  // a full commit folds the advances in
  CHECK(b.submit(room_id, room::FrameInput{b.conn(1), b.engine.instance(), relay_frame()}, b.conn(1)).broadcast);
  const auto last = c.host.wait_for(c.conn(1), "REACTION", "u2");
  REQUIRE(last);
  REQUIRE(last->seq == std::stoll(seq_after_relays) + 2);

  // Every member saw one gapless seq sequence up to the last relay.
  for (TestNode* node : {&a, &b}) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    std::vector<std::int64_t> seqs;
    do {
      seqs = node->host.seqs(node->conn(1));
      if (!seqs.empty() && seqs.back() >= *last->seq) break;
      std::this_thread::sleep_for(10ms);
    } while (std::chrono::steady_clock::now() < deadline);
    REQUIRE(seqs.size() >= 8);
    CHECK(seqs.back() == *last->seq);
    for (std::size_t i = 1; i < seqs.size(); ++i) CHECK(seqs[i] == seqs[i - 1] + 1);
  }
}

TEST_CASE("a host heartbeat that keeps the position is committed as an advance, one that moves it as the state",
          "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  TestNode a(redis, "na");
  TestNode b(redis, "nb");
  const std::string room_id = shared_room(a, b);
  const auto played_at = std::chrono::steady_clock::now();
  REQUIRE(a.submit(room_id, room::FrameInput{a.conn(1), a.engine.instance(), play_frame()}, a.conn(1)).broadcast);
  const std::string stored = room_field(redis, room_id, "s");
  REQUIRE(boost::json::parse(stored).as_object().at("isPlaying").as_bool());

  auto heartbeat = [&](double current_time) {
    tandem::proto::Frame frame;
    frame.type = "HOST_HEARTBEAT";
    frame.body = tandem::proto::HostHeartbeat{current_time, true, std::nullopt};
    return room::FrameInput{a.conn(1), a.engine.instance(), frame};
  };
  // Where the video is if it played on from 12.0: the committed position, extrapolated.
  const double on_time = 12.0 + std::chrono::duration<double>(std::chrono::steady_clock::now() - played_at).count();
  CHECK(a.submit(room_id, heartbeat(on_time), a.conn(1)).broadcast);
  const auto relayed = b.host.wait_for(b.conn(1), "HOST_HEARTBEAT", "u1");
  REQUIRE(relayed);
  CHECK(room_field(redis, room_id, "s") == stored);
  CHECK(room_field(redis, room_id, "q") == std::to_string(*relayed->seq));

  // 88 s away from the extrapolation: the position is committed with the state.
  CHECK(a.submit(room_id, heartbeat(100.0), a.conn(1)).broadcast);
  const auto moved = boost::json::parse(room_field(redis, room_id, "s")).as_object();
  CHECK(moved.at("currentTime").as_string() == "100");  // written exactly, as text
  CHECK(room_field(redis, room_id, "q").empty());

  // b saw play, both heartbeats, gapless.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::vector<std::int64_t> seqs;
  do {
    seqs = b.host.seqs(b.conn(1));
    if (seqs.size() >= 3) break;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  REQUIRE(seqs.size() == 3);
  CHECK(seqs[1] == seqs[0] + 1);
  CHECK(seqs[2] == seqs[1] + 1);
}

TEST_CASE("POSITION_UPDATEs on a cached room: kept positions and guests' are not committed, a moved one is",
          "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  TestNode a(redis, "na");
  TestNode b(redis, "nb");
  const std::string room_id = shared_room(a, b);
  tandem::proto::Frame pause;
  pause.type = "PLAY_PAUSE";
  pause.body = tandem::proto::PlayPause{false, 12.0, std::nullopt};
  REQUIRE(a.submit(room_id, room::FrameInput{a.conn(1), a.engine.instance(), pause}, a.conn(1)).broadcast);
  const std::string version = room_field(redis, room_id, "v");
  const std::string stored = room_field(redis, room_id, "s");
  REQUIRE_FALSE(version.empty());

  auto position = [](TestNode& node, double current_time) {
    tandem::proto::Frame frame;
    frame.type = "POSITION_UPDATE";
    frame.body = tandem::proto::PositionUpdate{current_time, false};
    return room::FrameInput{node.conn(1), node.engine.instance(), frame};
  };
  // The controller (u1, the host) reports the committed position; the guest reports another.
  // Both rooms are cached and idle: nothing is committed, and both frames are answered applied.
  for (int i = 0; i < 20; ++i) {
    CHECK(a.submit(room_id, position(a, 12.0), a.conn(1)).applied);
    CHECK(b.submit(room_id, position(b, 50.0 + i), b.conn(1)).applied);
  }
  CHECK(room_field(redis, room_id, "v") == version);
  CHECK(room_field(redis, room_id, "s") == stored);

  // The controller moves the paused position: committed with the state, and a node that never
  // saw the room reads it from Redis.
  CHECK(a.submit(room_id, position(a, 30.5), a.conn(1)).applied);
  CHECK(room_field(redis, room_id, "v") == std::to_string(std::stoll(version) + 1));
  const auto moved = boost::json::parse(room_field(redis, room_id, "s")).as_object();
  CHECK(moved.at("currentTime").as_string() == "30.5");
  CHECK_FALSE(moved.at("isPlaying").as_bool());
  // b's cached copy follows the commit: its next guest report still commits nothing, and a
  // controller report of the new position from a commits nothing either.
  const std::string moved_version = room_field(redis, room_id, "v");
  CHECK(b.submit(room_id, position(b, 99.0), b.conn(1)).applied);
  CHECK(a.submit(room_id, position(a, 30.5), a.conn(1)).applied);
  CHECK(room_field(redis, room_id, "v") == moved_version);
}

TEST_CASE("concurrent PIN guesses from one address on two nodes check at most pin_attempts_per_ip_minute PINs",
          "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  auto limited = [&](const std::string& node) {
    auto config = cluster_config(redis, node);
    config.limits.pin_attempts_per_ip_minute = 3;
    return config;
  };
  TestNode a(redis, limited("na"));
  TestNode b(redis, limited("nb"));
  std::vector<std::string> rooms;
  for (int i = 0; i < 5; ++i) {
    rooms.push_back(tandem::testing::unique_name("vault-"));
    const auto created = a.submit(rooms.back(), a.join_input(rooms.back(), "owner", 100 + i, "10.0.0.100", "424242"),
                                  a.conn(100 + i));
    REQUIRE(created.seated);
  }
  // Ten wrong PINs at once from one /64, half through each node, spread over the rooms.
  std::vector<std::future<engine::Outcome>> guesses;
  for (int i = 0; i < 10; ++i) {
    TestNode& node = i % 2 == 0 ? a : b;
    const std::string& room_id = rooms[static_cast<std::size_t>(i) % rooms.size()];
    const std::string addr = "2001:db8:7::" + std::to_string(i + 1);  // one /64, different addresses
    guesses.push_back(node.submit_async(room_id, node.join_input(room_id, "guest" + std::to_string(i), i + 1, addr,
                                                                 std::to_string(100000 + i)),
                                        node.conn(i + 1)));
  }
  for (auto& g : guesses) {
    REQUIRE(g.wait_for(10s) == std::future_status::ready);
    CHECK(g.get().join == room::JoinOutcome::pin_rejected);
  }
  std::vector<std::string> codes = a.host.error_codes();
  const auto on_b = b.host.error_codes();
  codes.insert(codes.end(), on_b.begin(), on_b.end());
  REQUIRE(codes.size() == 10);
  CHECK(std::count(codes.begin(), codes.end(), "bad_pin") == 3);
  CHECK(std::count(codes.begin(), codes.end(), "too_many_attempts") == 7);

  // The group is blocked even with the right PIN; another address is not, and its right PIN
  // gives its reserved attempt back.
  const auto blocked = b.submit(rooms[0], b.join_input(rooms[0], "late", 50, "2001:db8:7::99", "424242"), b.conn(50));
  CHECK(blocked.join == room::JoinOutcome::pin_rejected);
  for (int i = 0; i < 4; ++i) {
    const auto friendly = b.submit(rooms[1], b.join_input(rooms[1], "friend" + std::to_string(i), 60 + i,
                                                          "192.0.2.7", "424242"),
                                   b.conn(60 + i));
    CHECK(friendly.seated);
  }
}

TEST_CASE("two Redis engines deliver a room's broadcasts to members on both nodes, in seq order", "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  TestNode a(redis, "na");
  TestNode b(redis, "nb");
  const std::string room_id = tandem::testing::unique_name("room-");

  const auto first = a.join(room_id, "u1", 1);
  CHECK(first.applied);
  CHECK(first.join == room::JoinOutcome::joined);
  CHECK(first.seated);
  REQUIRE(a.host.wait_for(a.conn(1), "ROOM_STATE"));

  const auto second = b.join(room_id, "u2", 1);
  CHECK(second.seated);
  REQUIRE(b.host.wait_for(b.conn(1), "ROOM_STATE"));
  // The other node's member hears of the join through its own channel.
  REQUIRE(a.host.wait_for(a.conn(1), "USER_JOINED", "u2"));

  const auto played = a.submit(room_id, room::FrameInput{a.conn(1), a.engine.instance(), play_frame()}, a.conn(1));
  CHECK(played.applied);
  CHECK(played.broadcast);
  const auto on_a = a.host.wait_for(a.conn(1), "PLAY_PAUSE");
  const auto on_b = b.host.wait_for(b.conn(1), "PLAY_PAUSE");
  REQUIRE(on_a);
  REQUIRE(on_b);
  CHECK(on_a->seq == on_b->seq);
  const auto seqs = b.host.seqs(b.conn(1));
  for (std::size_t i = 1; i < seqs.size(); ++i) CHECK(seqs[i] == seqs[i - 1] + 1);

  // A guest may not play: the answer goes to the sender only and nothing is committed.
  const auto refused = b.submit(room_id, room::FrameInput{b.conn(1), b.engine.instance(), play_frame()}, b.conn(1));
  CHECK(refused.applied);
  CHECK_FALSE(refused.broadcast);
  CHECK(b.host.wait_for(b.conn(1), "ERROR"));
}

TEST_CASE("presence and short ids are answered by callbacks from the engine's thread", "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  TestNode a(redis, "na");
  const std::string room_id = tandem::testing::unique_name("room-");
  a.join(room_id, "u1", 1);
  a.join(room_id, "u2", 2);

  // /status summaries are what presence reads: written by the commit script.
  std::promise<std::optional<std::size_t>> presence;
  a.engine.presence(room_id, [&](std::optional<std::size_t> n) { presence.set_value(n); });
  auto count = presence.get_future();
  REQUIRE(count.wait_for(5s) == std::future_status::ready);
  CHECK(count.get() == std::optional<std::size_t>(2));

  std::promise<engine::ShortIdResult> minted;
  a.engine.short_id(room_id, "10.0.0.1", [&](engine::ShortIdResult r) { minted.set_value(r); });
  auto result = minted.get_future();
  REQUIRE(result.wait_for(5s) == std::future_status::ready);
  const auto short_id = result.get().short_id;
  CHECK(short_id.size() == 8);

  std::promise<std::optional<std::string>> found;
  a.engine.room_for_short_id(short_id, [&](std::optional<std::string> r) { found.set_value(r); });
  auto lookup = found.get_future();
  REQUIRE(lookup.wait_for(5s) == std::future_status::ready);
  CHECK(lookup.get() == std::optional<std::string>(room_id));
}

TEST_CASE("a node's disconnect is committed and reaches the other node's members", "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  TestNode a(redis, "na");
  TestNode b(redis, "nb");
  const std::string room_id = tandem::testing::unique_name("room-");
  a.join(room_id, "u1", 1);
  b.join(room_id, "u2", 1);
  REQUIRE(a.host.wait_for(a.conn(1), "USER_JOINED", "u2"));
  const auto gone = b.submit(room_id, room::DisconnectInput{b.conn(1), false}, room::ConnId());
  CHECK(gone.applied);
  REQUIRE(a.host.wait_for(a.conn(1), "USER_LEFT", "u2"));
  CHECK(a.engine.idle());
  CHECK(b.engine.idle());
}

namespace {

// The value of one series in a registry's exposition (0 when absent).
double series_value(tandem::metrics::Registry& registry, const std::string& series) {
  std::istringstream lines(registry.render());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

}  // namespace

TEST_CASE("a lost room that two nodes' JOINs find in PostgreSQL at once is rebuilt once (one restored, one superseded)",
          "[cluster][engine][postgres]") {
  tandem::testing::RedisFixture redis;
  tandem::testing::PgFixture pg;
  tandem::testing::PgSearchPath search_path(pg.schema());
  const tandem::config::Config config = cluster_config(redis, "na");
  auto db = tandem::store::open_postgres(*config.postgres);
  tandem::store::Migrator(*db).up();
  const std::string room_id = tandem::testing::unique_name("room-");
  {
    // The room lives on node a until its snapshot is in PostgreSQL; its member leaves; a stops.
    TestNode a(redis, "na");
    REQUIRE(a.join(room_id, "u1", 1).seated);
    REQUIRE(a.submit(room_id, room::DisconnectInput{a.conn(1), false}, room::ConnId()).applied);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (db->query("SELECT 1 FROM rooms WHERE member_count = 0 AND id = " + db->param(1), {room_id}).empty() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
    }
    REQUIRE_FALSE(db->query("SELECT 1 FROM rooms WHERE member_count = 0 AND id = " + db->param(1), {room_id}).empty());
  }
  // Redis loses the room.
  std::string error;
  auto context = tandem::testing::redis_connect(redis.host(), redis.port(), error);
  REQUIRE(context);
  REQUIRE(tandem::testing::redis_command(*context, {"DEL", engine::redis::Keys(redis.prefix()).room(room_id)})->integer == 1);

  TestNode c(redis, "nc");
  TestNode d(redis, "nd");
  // Both nodes' lookups wait on a lock until both have asked: each finds the room.
  db->begin();
  db->query("LOCK TABLE rooms IN ACCESS EXCLUSIVE MODE");
  auto on_c = c.submit_async(room_id, c.join_input(room_id, "u3", 1, "10.0.0.3"), c.conn(1));
  auto on_d = d.submit_async(room_id, d.join_input(room_id, "u4", 1, "10.0.0.4"), d.conn(1));
  auto watcher = tandem::store::open_postgres(*config.postgres);
  const auto waiting = [&watcher] {
    return watcher->query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                          "AND query LIKE '%FROM rooms r%'")[0].text(0);
  };
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (waiting() != "2" && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  CHECK(waiting() == "2");
  db->commit();

  REQUIRE(on_c.wait_for(10s) == std::future_status::ready);
  REQUIRE(on_d.wait_for(10s) == std::future_status::ready);
  const auto joined_c = on_c.get();
  const auto joined_d = on_d.get();
  CHECK(joined_c.seated);
  CHECK(joined_d.seated);
  // One room: whichever joined second met the other.
  const bool met = c.host.wait_for(c.conn(1), "USER_JOINED", "u4").has_value() ||
                   d.host.wait_for(d.conn(1), "USER_JOINED", "u3").has_value();
  CHECK(met);
  const auto total = [&](const char* result) {
    const std::string series = std::string("tandem_cluster_room_lookups_total{result=\"") + result + "\"}";
    return series_value(c.registry, series) + series_value(d.registry, series);
  };
  CHECK(total("restored") == 1);
  CHECK(total("superseded") == 1);
}

TEST_CASE("an engine on the host's event loop works on that loop's thread and, stopped there, leaves the cluster",
          "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  boost::asio::io_context loop;
  auto work = boost::asio::make_work_guard(loop);
  std::thread runner([&loop] { loop.run(); });
  const auto loop_thread = runner.get_id();
  TestNode a(redis, "na", &loop);
  TestNode b(redis, "nb");
  const std::string room_id = shared_room(a, b);

  // Completions and deliveries of the loop's engine come from the loop's thread.
  std::promise<std::thread::id> completed_on;
  a.engine.submit(engine::Submission{room_id, room::FrameInput{a.conn(1), a.engine.instance(), play_frame()}, a.conn(1)},
                  [&completed_on](engine::Outcome o) {
                    CHECK(o.broadcast);
                    completed_on.set_value(std::this_thread::get_id());
                  });
  auto done = completed_on.get_future();
  REQUIRE(done.wait_for(10s) == std::future_status::ready);
  CHECK(done.get() == loop_thread);
  REQUIRE(b.host.wait_for(b.conn(1), "PLAY_PAUSE"));
  CHECK(a.host.threads() == std::set<std::thread::id>{loop_thread});

  // Its member leaves; the host's loop returns from run(); stop() runs it on this thread until
  // the node has left: its liveness key and its entry in the node index are gone.
  REQUIRE(a.submit(room_id, room::DisconnectInput{a.conn(1), false}, room::ConnId()).applied);
  REQUIRE(b.host.wait_for(b.conn(1), "USER_LEFT", "u1"));
  work.reset();
  loop.stop();
  runner.join();
  CHECK(a.engine.stop(5s));
  std::string error;
  auto check = tandem::testing::redis_connect(redis.host(), redis.port(), error);
  REQUIRE(check);
  const engine::redis::Keys keys(redis.prefix());
  const auto alive = tandem::testing::redis_command(*check, {"EXISTS", keys.node(a.engine.instance())});
  REQUIRE(alive);
  CHECK(alive->integer == 0);
  const auto listed = tandem::testing::redis_command(*check, {"ZSCORE", keys.nodes(), a.engine.instance()});
  REQUIRE(listed);
  CHECK(listed->type == REDIS_REPLY_NIL);
  // Nothing of the engine is left queued on the loop: under the sanitizers a handler that
  // outlived the engine would be a use after free here.
  loop.restart();
  CHECK(loop.poll() == 0);
}

namespace {

// The ids of the Redis clients named `name` (CLIENT LIST).
std::vector<std::string> client_ids(redisContext& context, const std::string& name) {
  const auto list = tandem::testing::redis_command(context, {"CLIENT", "LIST"});
  REQUIRE(list);
  REQUIRE(list->type == REDIS_REPLY_STRING);
  std::vector<std::string> ids;
  std::istringstream lines(std::string(list->str, list->len));
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" name=" + name + " ") == std::string::npos) continue;
    const auto at = line.find("id=");
    REQUIRE(at != std::string::npos);
    ids.push_back(line.substr(at + 3, line.find(' ', at) - at - 3));
  }
  return ids;
}

// Redis drops `node`'s command connection (CLIENT KILL); the id of the connection dropped.
std::string drop_command_connection(redisContext& context, const TestNode& node) {
  const auto cmd = client_ids(context, "tandem:" + node.engine.instance() + ":cmd");
  REQUIRE(cmd.size() == 1);
  const auto killed = tandem::testing::redis_command(context, {"CLIENT", "KILL", "ID", cmd.front()});
  REQUIRE(killed);
  CHECK(killed->integer == 1);
  return cmd.front();
}

}  // namespace

TEST_CASE("a node whose Redis connections drop reconnects, loads its scripts again and commits", "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  TestNode a(redis, "na");
  const std::string room_id = tandem::testing::unique_name("room-");
  REQUIRE(a.join(room_id, "u1", 1).seated);
  REQUIRE(a.host.wait_for(a.conn(1), "ROOM_STATE"));

  std::string error;
  auto context = tandem::testing::redis_connect(redis.host(), redis.port(), error);
  REQUIRE(context);
  const std::string cmd_name = "tandem:" + a.engine.instance() + ":cmd";
  const std::string sub_name = "tandem:" + a.engine.instance() + ":sub";
  const auto sub_before = client_ids(*context, sub_name);
  REQUIRE(sub_before.size() == 1);

  // Redis drops the command connection: the link closes the subscription too and connects both
  // again under the same names.
  const std::vector<std::string> cmd_before{drop_command_connection(*context, a)};
  auto replaced = [&] {
    const auto cmd = client_ids(*context, cmd_name);
    const auto sub = client_ids(*context, sub_name);
    return cmd.size() == 1 && sub.size() == 1 && cmd != cmd_before && sub != sub_before;
  };
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!replaced() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  REQUIRE(replaced());
  while (!a.engine.can_serve() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  REQUIRE(a.engine.can_serve());

  // Redis forgets the scripts the link loaded: the next commit's EVALSHA gets NOSCRIPT and falls
  // back to EVAL. The room did not change meanwhile, so its member stayed: the host's PLAY
  // commits and reaches it through the new subscription.
  REQUIRE(tandem::testing::redis_command(*context, {"SCRIPT", "FLUSH"}));
  const auto played = a.submit(room_id, room::FrameInput{a.conn(1), a.engine.instance(), play_frame()}, a.conn(1));
  CHECK(played.applied);
  CHECK(played.broadcast);
  REQUIRE(a.host.wait_for(a.conn(1), "PLAY_PAUSE"));
}

TEST_CASE("a node that stops with members in a room is reaped: they leave and the host passes on", "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  auto config_a = cluster_config(redis, "na");
  config_a.cluster.node_ttl = 1s;
  config_a.rooms.host_grace = 300ms;  // a host lost with its node gets this long to come back
  TestNode a(redis, std::move(config_a));
  const std::string room_id = tandem::testing::unique_name("room-");
  std::string dead;
  {
    auto config_b = cluster_config(redis, "nb");
    config_b.cluster.node_ttl = 1s;
    TestNode b(redis, std::move(config_b));
    dead = b.engine.instance();
    REQUIRE(b.join(room_id, "host", 1).seated);  // the first member hosts
    REQUIRE(a.join(room_id, "guest", 1).seated);
    REQUIRE(a.host.wait_for(a.conn(1), "ROOM_STATE"));
  }  // b stops without its member's departure: it cannot leave the cluster

  const engine::redis::Keys keys(redis.prefix());
  std::string error;
  auto context = tandem::testing::redis_connect(redis.host(), redis.port(), error);
  REQUIRE(context);
  auto in_cluster = [&] {
    const auto score = tandem::testing::redis_command(*context, {"ZSCORE", keys.nodes(), dead});
    return score && score->type != REDIS_REPLY_NIL;
  };
  CHECK(in_cluster());

  // Within node_ttl (plus a reaper round) the living node removes the dead node's member.
  REQUIRE(a.host.wait_for(a.conn(1), "USER_LEFT", "host"));
  REQUIRE(a.host.wait_for(a.conn(1), "HOST_CHANGED"));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (in_cluster() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  CHECK_FALSE(in_cluster());
  const auto index = tandem::testing::redis_command(*context, {"EXISTS", keys.node_rooms(dead)});
  REQUIRE(index);
  CHECK(index->integer == 0);
  const auto seqs = a.host.seqs(a.conn(1));
  for (std::size_t i = 1; i < seqs.size(); ++i) CHECK(seqs[i] == seqs[i - 1] + 1);
}

TEST_CASE("the audit copier sets aside an event PostgreSQL refuses as data and its backlog empties",
          "[cluster][engine][postgres]") {
  tandem::testing::RedisFixture redis;
  tandem::testing::PgFixture pg;
  tandem::testing::PgSearchPath search_path(pg.schema());  // the node's PgWriter connects by itself
  tandem::config::Config config = cluster_config(redis, "node-a");
  {
    auto db = tandem::store::open_postgres(*config.postgres);
    tandem::store::Migrator(*db).up();
  }

  // Three records in the audit stream as the commit script writes them; jsonb refuses the
  // second's \u0000.
  std::string error;
  auto context = tandem::testing::redis_connect(redis.host(), redis.port(), error);
  REQUIRE(context);
  const auto audit = redis.key("audit");
  const std::vector<std::pair<std::string, std::string>> events{
      {"good-1", R"({"username":"Ann"})"}, {"poison", R"({"username":"a\u0000b"})"}, {"good-2", "{}"}};
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto reply = tandem::testing::redis_command(
        *context, {"XADD", audit, "*", "r", "party", "t", "USER_JOINED", "u", "user_a", "q", std::to_string(i + 1),
                   "a", "1700000000000", "d", events[i].second, "n", "node-a", "i", events[i].first});
    REQUIRE(reply);
    REQUIRE(reply->type == REDIS_REPLY_STRING);
  }

  TestNode node(redis, "node-a");
  auto db = tandem::store::open_postgres(*config.postgres);
  long long left = -1;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    left = tandem::testing::redis_command(*context, {"XLEN", audit})->integer;
    if (left == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(left == 0);  // acknowledged and deleted: no retry loop

  const auto written = db->query("SELECT event_uid FROM room_events ORDER BY id");
  REQUIRE(written.size() == 2);
  CHECK(written[0].text(0) == "good-1");
  CHECK(written[1].text(0) == "good-2");
  const auto dead = db->query("SELECT kind, encode(record, 'escape'), error_code FROM dead_letters");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].text(0) == "event");
  CHECK(dead[0].text(1).find(R"("uid":"poison")") != std::string::npos);
  CHECK(dead[0].text(2) == "22P05");
  CHECK(node.registry.render().find("tandem_dead_letters_total{store=\"postgres\"} 1") != std::string::npos);
}

namespace {

// A test's own event loop for an engine (RedisEngine's host-loop mode), run on a thread of its
// own until stop(); hold() keeps the loop busy until the returned promise is set, so that what is
// submitted meanwhile queues behind it.
struct TestLoop {
  TestLoop() : work(boost::asio::make_work_guard(io)), runner([this] { io.run(); }) {}
  ~TestLoop() { stop(); }
  std::shared_ptr<std::promise<void>> hold() {
    auto release = std::make_shared<std::promise<void>>();
    boost::asio::post(io, [gate = release->get_future().share()] { gate.wait(); });
    return release;
  }
  void stop() {
    if (!runner.joinable()) return;
    work.reset();
    io.stop();
    runner.join();
  }
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
  std::thread runner;
};

// A node whose engine runs on a TestLoop: the loop returns from run() before the engine stops
// (RedisEngine::stop runs a host loop on the calling thread), also when a REQUIRE ends the test.
struct LoopNode {
  LoopNode(const tandem::testing::RedisFixture& redis, tandem::config::Config config)
      : node(redis, std::move(config), &loop.io) {}
  ~LoopNode() { loop.stop(); }
  TestLoop loop;
  TestNode node;
};

std::uint64_t room_version(const tandem::testing::RedisFixture& redis, const std::string& room_id) {
  return std::stoull(room_field(redis, room_id, "v"));
}

}  // namespace

TEST_CASE("a node's departures from one room that wait for it together are committed together",
          "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  LoopNode on_loop(redis, cluster_config(redis, "na"));
  TestNode& a = on_loop.node;
  TestLoop& loop = on_loop.loop;
  TestNode b(redis, "nb");
  const std::string room_id = tandem::testing::unique_name("room-");
  for (int n = 1; n <= 3; ++n) REQUIRE(a.join(room_id, "a" + std::to_string(n), n).seated);
  REQUIRE(b.join(room_id, "stays", 1).seated);
  // a's copy of the room is current (b's JOIN came back to it): its first departure commits at once.
  REQUIRE(a.host.wait_for(a.conn(1), "USER_JOINED", "stays"));
  const std::uint64_t before = room_version(redis, room_id);

  // Three of a's connections close at once: the first departure is applied and its commit sent
  // while the other two wait for the room; those two then go in one commit.
  auto release = loop.hold();
  std::vector<std::future<engine::Outcome>> left;
  for (int n = 1; n <= 3; ++n) left.push_back(a.submit_async(room_id, room::DisconnectInput{a.conn(n), false}, {}));
  release->set_value();
  for (auto& outcome : left) {
    REQUIRE(outcome.wait_for(10s) == std::future_status::ready);
    CHECK(outcome.get().applied);
  }
  for (int n = 1; n <= 3; ++n) CHECK(b.host.wait_for(b.conn(1), "USER_LEFT", "a" + std::to_string(n)));
  // One commit per departure would have made it 3 (here: the first alone, the two waiting together).
  CHECK(room_version(redis, room_id) - before <= 2);
  const auto seqs = b.host.seqs(b.conn(1));
  for (std::size_t i = 1; i < seqs.size(); ++i) CHECK(seqs[i] == seqs[i - 1] + 1);
  CHECK(series_value(a.registry, "tandem_cluster_cas_abandoned_total") == 0);
}

TEST_CASE("a departure whose compare-and-set is lost after more than 2 s is retried and committed, not abandoned",
          "[cluster][engine]") {
  // Its connection closed (nobody waits for the change), or its client sent LEAVE (it waits).
  const bool by_leave = GENERATE(false, true);
  CAPTURE(by_leave);
  tandem::testing::RedisFixture redis;
  // No watchdog reconnect while a's loop is held for 2.5 s.
  auto config_a = cluster_config(redis, "na");
  config_a.redis->connect_timeout = 10s;
  LoopNode on_loop(redis, std::move(config_a));
  TestNode& a = on_loop.node;
  TestLoop& loop = on_loop.loop;
  TestNode b(redis, "nb");
  const std::string room_id = tandem::testing::unique_name("room-");
  REQUIRE(a.join(room_id, "leaves-a", 1).seated);
  REQUIRE(b.join(room_id, "leaves-b", 1).seated);
  REQUIRE(b.join(room_id, "stays", 2).seated);
  REQUIRE(a.host.wait_for(a.conn(1), "USER_JOINED", "stays"));

  // a applies its member's departure; its commit can go out only after a held loop, by which
  // time b has committed its own departure and more than the 2 s a client's change may wait
  // have passed. a's commit loses the compare-and-set and must be retried all the same.
  auto release = loop.hold();
  tandem::proto::Frame leave;
  leave.type = "LEAVE";
  leave.body = tandem::proto::Leave{};
  auto a_left = by_leave ? a.submit_async(room_id, room::FrameInput{a.conn(1), a.engine.instance(), leave}, a.conn(1))
                         : a.submit_async(room_id, room::DisconnectInput{a.conn(1), false}, {});
  std::promise<void> b_committed;
  boost::asio::post(loop.io, [started = std::chrono::steady_clock::now(), gate = b_committed.get_future()] {
    gate.wait();
    std::this_thread::sleep_until(started + 2500ms);
  });
  release->set_value();
  CHECK(b.submit(room_id, room::DisconnectInput{b.conn(1), false}, {}).applied);
  b_committed.set_value();
  REQUIRE(a_left.wait_for(10s) == std::future_status::ready);
  CHECK(a_left.get().applied);
  CHECK(b.host.wait_for(b.conn(2), "USER_LEFT", "leaves-a"));
  CHECK(b.host.wait_for(b.conn(2), "USER_LEFT", "leaves-b"));
  CHECK(series_value(a.registry, "tandem_cluster_cas_retries_total") >= 1);  // it did lose once
  CHECK(series_value(a.registry, "tandem_cluster_cas_abandoned_total") == 0);
}

TEST_CASE("members a node lost track of are removed in one commit when it resynchronises with Redis",
          "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  TestNode a(redis, "na");
  const std::string room_id = tandem::testing::unique_name("room-");
  REQUIRE(a.join(room_id, "stays", 1).seated);
  REQUIRE(a.host.wait_for(a.conn(1), "ROOM_STATE"));

  // Three members of this node that it holds no connection for (as when their disconnects could
  // not be committed): written into the stored state at the same version, so the node's copy,
  // once reloaded, is current and only the ghosts are wrong.
  std::string error;
  auto context = tandem::testing::redis_connect(redis.host(), redis.port(), error);
  REQUIRE(context);
  auto state = boost::json::parse(room_field(redis, room_id, "s")).as_object();
  auto& members = state.at("members").as_array();
  REQUIRE(members.size() == 1);
  for (int n = 11; n <= 13; ++n) {
    auto ghost = members.front().as_object();
    ghost["userId"] = "ghost" + std::to_string(n);
    ghost["peerId"] = "peer" + std::to_string(n);
    ghost["conn"] = a.conn(n);
    members.push_back(std::move(ghost));
  }
  const std::string key = engine::redis::Keys(redis.prefix()).room(room_id);
  REQUIRE(tandem::testing::redis_command(*context, {"HSET", key, "s", boost::json::serialize(state)}));
  const std::uint64_t before = room_version(redis, room_id);

  // Redis drops the node's command connection; back, the node reloads its rooms and removes
  // the members it has no connection for.
  drop_command_connection(*context, a);
  for (int n = 11; n <= 13; ++n) CHECK(a.host.wait_for(a.conn(1), "USER_LEFT", "ghost" + std::to_string(n)));
  CHECK(room_version(redis, room_id) == before + 1);  // one commit for the three
  const auto after = boost::json::parse(room_field(redis, room_id, "s")).as_object();
  REQUIRE(after.at("members").as_array().size() == 1);
  CHECK(after.at("members").as_array().front().as_object().at("userId").as_string() == "stays");
  const auto seqs = a.host.seqs(a.conn(1));
  for (std::size_t i = 1; i < seqs.size(); ++i) CHECK(seqs[i] == seqs[i - 1] + 1);
}

TEST_CASE("every commit is counted by its input and its form", "[cluster][engine]") {
  tandem::testing::RedisFixture redis;
  TestNode a(redis, "na");
  const std::string room_id = tandem::testing::unique_name("room-");
  REQUIRE(a.join(room_id, "u1", 1).seated);
  REQUIRE(a.join(room_id, "u2", 2).seated);
  REQUIRE(a.submit(room_id, room::FrameInput{a.conn(1), a.engine.instance(), play_frame()}, a.conn(1)).broadcast);
  // A relay moves only the room's seq: an advance.
  REQUIRE(a.submit(room_id, room::FrameInput{a.conn(1), a.engine.instance(), relay_frame()}, a.conn(1)).applied);
  REQUIRE(a.submit(room_id, room::DisconnectInput{a.conn(2), false}, room::ConnId()).applied);
  auto commits = [&](const std::string& input, const std::string& form) {
    return series_value(a.registry,
                        "tandem_cluster_commits_total{form=\"" + form + "\",input=\"" + input + "\"}");
  };
  CHECK(commits("JOIN", "state") == 2);
  CHECK(commits("PLAY_PAUSE", "state") == 1);
  CHECK(commits("REACTION", "advance") == 0);  // not a type of the protocol: counted as "other"
  CHECK(commits("other", "advance") == 1);
  CHECK(commits("disconnect", "state") == 1);
}

TEST_CASE("a playing host's position read long before its frame is applied is not a moved position", "[cluster][engine]") {
  // Under load a host's POSITION_UPDATE waits in the node behind other changes. Taken as the
  // position at the time it is applied, every such report lagged the committed position by the
  // wait and was committed, which made the next ones wait longer (docs/performance.md).
  tandem::testing::RedisFixture redis;
  TestNode a(redis, "na");
  TestNode b(redis, "nb");
  const std::string room_id = shared_room(a, b);
  const auto played_at = tandem::util::epoch_ms();
  REQUIRE(a.submit(room_id, room::FrameInput{a.conn(1), a.engine.instance(), play_frame()}, a.conn(1)).broadcast);
  const std::string version = room_field(redis, room_id, "v");
  std::this_thread::sleep_for(1600ms);

  // Reports of where the video was when each was read, 1.5 s before it is applied; the
  // committed position extrapolates to each within a few milliseconds.
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(100ms);
    const auto read_at = tandem::util::epoch_ms() - 1500;
    tandem::proto::Frame frame;
    frame.type = "POSITION_UPDATE";
    frame.body = tandem::proto::PositionUpdate{12.0 + static_cast<double>(read_at - played_at) / 1000.0, true};
    CHECK(a.submit(room_id, room::FrameInput{a.conn(1), a.engine.instance(), frame, read_at}, a.conn(1)).applied);
  }
  CHECK(room_field(redis, room_id, "v") == version);
  CHECK(series_value(a.registry, "tandem_cluster_commits_total{form=\"state\",input=\"POSITION_UPDATE\"}") == 0);
}
