// The node layer against a fake engine: the order of checks, per-connection order with an
// asynchronous engine, JOIN assembly, PIN counting, delivery and the asynchronous HTTP API.
#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config.hpp"
#include "core/metrics/metrics.hpp"
#include "core/node/node.hpp"

namespace engine = tandem::engine;
namespace net = tandem::net;
namespace room = tandem::room;
using tandem::node::Node;

namespace {

class FakeConnection final : public net::WsConnection {
 public:
  explicit FakeConnection(std::uint64_t id, std::string addr = "10.0.0.1") : id_(id), addr_(std::move(addr)) {}
  std::uint64_t id() const override { return id_; }
  const std::string& client_addr() const override { return addr_; }
  bool send(std::shared_ptr<const std::string> text) override {
    sent.push_back(*text);
    return true;
  }
  void close(std::uint16_t code, std::string reason) override { closes.emplace_back(code, std::move(reason)); }

  // The `type` (and `code` for ERROR) of every frame sent, e.g. "PONG", "ERROR not_joined".
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const auto& text : sent) {
      const auto frame = boost::json::parse(text).as_object();
      std::string kind(frame.at("type").as_string());
      if (kind == "ERROR") kind += " " + std::string(frame.at("code").as_string());
      out.push_back(kind);
    }
    return out;
  }

  std::vector<std::string> sent;
  std::vector<std::pair<std::uint16_t, std::string>> closes;

 private:
  std::uint64_t id_;
  std::string addr_;
};

// Records every submission; completes them at once with `outcome_for` unless `hold` is set, in
// which case the test completes them with complete_next().
class FakeEngine final : public engine::Engine {
 public:
  struct Pending {
    engine::Submission submission;
    std::function<void(engine::Outcome)> done;
  };

  const std::string& instance() const override { return instance_; }
  void start(engine::EngineHost& host) override { host_ = &host; }
  void submit(engine::Submission submission, std::function<void(engine::Outcome)> done) override {
    submitted.push_back(submission);
    if (hold) {
      pending.push_back(Pending{std::move(submission), std::move(done)});
      return;
    }
    done(outcome_for(submission));
  }
  void complete_next() {
    REQUIRE_FALSE(pending.empty());
    auto next = std::move(pending.front());
    pending.pop_front();
    next.done(outcome_for(next.submission));
  }
  bool can_serve() const override { return serve; }
  bool can_commit() const override { return commit; }
  bool healthy() const override { return true; }
  void presence(const std::string&, std::function<void(std::optional<std::size_t>)> done) override { done(3); }
  void short_id(const std::string&, const std::string&, std::function<void(engine::ShortIdResult)> done) override {
    short_id_done = std::move(done);
  }
  void room_for_short_id(const std::string&, std::function<void(std::optional<std::string>)> done) override {
    done(std::nullopt);
  }
  std::shared_ptr<const engine::StatusRooms> status_rooms() const override {
    return std::make_shared<engine::StatusRooms>();
  }
  void begin_drain() override {}
  bool idle() const override { return pending.empty(); }
  bool stop(std::chrono::milliseconds) override { return true; }

  engine::EngineHost& host() { return *host_; }

  std::function<engine::Outcome(const engine::Submission&)> outcome_for = [](const engine::Submission& s) {
    const bool join = std::holds_alternative<room::JoinInput>(s.input);
    return engine::Outcome{true, join ? room::JoinOutcome::joined : room::JoinOutcome::none, join, false};
  };
  std::vector<engine::Submission> submitted;
  std::deque<Pending> pending;
  std::function<void(engine::ShortIdResult)> short_id_done;
  bool hold = false;
  bool serve = true;
  bool commit = true;

 private:
  std::string instance_ = "n1";
  engine::EngineHost* host_ = nullptr;
};

struct Fixture {
  Fixture() : node(config, engine, registry) { node.start(); }

  std::shared_ptr<FakeConnection> connect(std::uint64_t id) {
    auto c = std::make_shared<FakeConnection>(id);
    node.opened(c);
    return c;
  }
  void send(const std::shared_ptr<FakeConnection>& c, const std::string& text) { node.message(c, text); }
  void join(const std::shared_ptr<FakeConnection>& c, const std::string& room_id, const std::string& user = "u1") {
    send(c, R"({"type":"JOIN","roomId":")" + room_id + R"(","userId":")" + user + R"("})");
  }
  // Waits until no frame is in progress: a JOIN with a PIN finishes on the node's PIN worker.
  void settle() {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!node.idle()) {
      REQUIRE(std::chrono::steady_clock::now() < give_up);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  tandem::config::Config config;
  tandem::metrics::Registry registry;
  FakeEngine engine;
  Node node;
};

const room::JoinInput& join_input(const engine::Submission& s) { return std::get<room::JoinInput>(s.input); }

}  // namespace

TEST_CASE("before a JOIN only PING and JOIN reach anything, other frames get not_joined", "[node]") {
  Fixture f;
  auto c = f.connect(1);
  f.send(c, R"({"type":"PING","timestamp":1})");
  f.send(c, R"({"type":"PLAY_PAUSE","control":"play"})");
  f.send(c, R"({"type":"USER_JOINED"})");  // reserved, but not_joined comes first (§10)
  CHECK(c->kinds() == std::vector<std::string>{"PONG", "ERROR not_joined", "ERROR not_joined"});
  CHECK(f.engine.submitted.empty());
}

TEST_CASE("a JOIN carries the connection's peerId, kept across repeated JOINs on the same socket", "[node]") {
  Fixture f;
  auto a = f.connect(1);
  auto b = f.connect(2);
  f.join(a, "r1");
  f.join(a, "r1");
  f.join(b, "r1", "u2");
  REQUIRE(f.engine.submitted.size() == 3);
  const auto& first = join_input(f.engine.submitted[0]);
  const auto& again = join_input(f.engine.submitted[1]);
  const auto& other = join_input(f.engine.submitted[2]);
  CHECK(first.peer_id.size() == 16);
  CHECK(again.peer_id == first.peer_id);
  CHECK(other.peer_id != first.peer_id);
  CHECK_FALSE(first.same_socket_rejoin);
  CHECK(again.same_socket_rejoin);
  CHECK(again.session_token != first.session_token);  // renewed by every JOIN
  CHECK(first.conn == "n1/1");
  CHECK(first.node_id == "n1");
}

TEST_CASE("a connection's frames reach an asynchronous engine one at a time, in arrival order", "[node]") {
  Fixture f;
  auto c = f.connect(1);
  f.join(c, "r1");
  f.engine.hold = true;
  f.send(c, R"({"type":"PLAY_PAUSE","control":"play"})");
  f.send(c, R"({"type":"SEEK","currentTime":5})");
  f.send(c, R"({"type":"REQUEST_SYNC"})");
  REQUIRE(f.engine.submitted.size() == 2);  // the JOIN and the PLAY_PAUSE; the rest wait
  CHECK_FALSE(f.node.idle());
  f.engine.complete_next();
  REQUIRE(f.engine.submitted.size() == 3);
  f.engine.complete_next();
  REQUIRE(f.engine.submitted.size() == 4);
  f.engine.complete_next();
  CHECK(f.node.idle());
  const auto type_of = [](const engine::Submission& s) { return std::get<room::FrameInput>(s.input).frame.type; };
  CHECK(type_of(f.engine.submitted[1]) == "PLAY_PAUSE");
  CHECK(type_of(f.engine.submitted[2]) == "SEEK");
  CHECK(type_of(f.engine.submitted[3]) == "REQUEST_SYNC");
}

TEST_CASE("PING is answered at once while earlier frames wait for the engine", "[node]") {
  Fixture f;
  auto c = f.connect(1);
  f.join(c, "r1");
  f.engine.hold = true;
  f.send(c, R"({"type":"PLAY_PAUSE","control":"play"})");
  f.send(c, R"({"type":"PING","timestamp":1})");
  CHECK(c->kinds() == std::vector<std::string>{"PONG"});
  // The member's PING also refreshes its presence, after the PLAY_PAUSE.
  f.engine.complete_next();
  REQUIRE(f.engine.submitted.size() == 3);
  CHECK(std::holds_alternative<room::SeenInput>(f.engine.submitted[2].input));
}

TEST_CASE("frames beyond the pending bound are answered server_busy and dropped", "[node]") {
  Fixture f;
  auto c = f.connect(1);
  f.join(c, "r1");
  f.engine.hold = true;
  const std::size_t bound = std::max<std::size_t>(
      256, static_cast<std::size_t>(f.config.limits.msgs_burst + f.config.limits.msgs_per_sec));
  for (std::size_t i = 0; i < bound + 2; ++i) f.send(c, R"({"type":"READY"})");
  // One frame is with the engine, `bound` wait; the last one is refused.
  CHECK(c->kinds() == std::vector<std::string>{"ERROR server_busy"});
  CHECK(f.registry.render().find("tandem_pending_frame_drops_total 1") != std::string::npos);
}

TEST_CASE("while the engine refuses commits, read-only frames pass and state changes get server_busy", "[node]") {
  Fixture f;
  auto c = f.connect(1);
  f.join(c, "r1");
  f.engine.commit = false;
  f.send(c, R"({"type":"REQUEST_SYNC"})");
  f.send(c, R"({"type":"PLAY_PAUSE","control":"play"})");
  f.join(c, "r2");
  CHECK(f.engine.submitted.size() == 2);  // the first JOIN and REQUEST_SYNC
  CHECK(c->kinds() == std::vector<std::string>{"ERROR server_busy", "ERROR server_busy"});
  f.engine.serve = false;
  f.send(c, R"({"type":"REQUEST_SYNC"})");
  CHECK(f.engine.submitted.size() == 2);
  CHECK(c->kinds().size() == 3);
}

TEST_CASE("a bad POSITION_UPDATE is dropped silently and counted", "[node]") {
  Fixture f;
  auto c = f.connect(1);
  f.join(c, "r1");
  f.send(c, R"({"type":"POSITION_UPDATE","currentTime":"soon"})");
  CHECK(c->sent.empty());
  CHECK(f.engine.submitted.size() == 1);
  CHECK(f.registry.render().find("tandem_dropped_position_updates_total 1") != std::string::npos);
}

TEST_CASE("the limits.pin_attempts-th wrong PIN on one connection closes it 1008", "[node]") {
  Fixture f;
  f.engine.outcome_for = [](const engine::Submission&) {
    return engine::Outcome{true, room::JoinOutcome::pin_rejected, false, false};
  };
  auto c = f.connect(1);
  for (int i = 0; i < f.config.limits.pin_attempts; ++i) {
    CHECK(c->closes.empty());
    f.send(c, R"({"type":"JOIN","roomId":"r1","userId":"u1","pin":"0000"})");
    f.settle();
  }
  REQUIRE(c->closes.size() == 1);
  CHECK(c->closes[0].first == 1008);
  f.send(c, R"({"type":"REQUEST_SYNC"})");  // never bound
  CHECK(c->kinds().back() == "ERROR not_joined");
}

TEST_CASE("a JOIN to another room leaves the old one after the new one seated the socket", "[node]") {
  Fixture f;
  auto c = f.connect(1);
  f.join(c, "r1");
  f.join(c, "r2");
  REQUIRE(f.engine.submitted.size() == 3);
  CHECK(f.engine.submitted[1].room_id == "r2");
  CHECK(f.engine.submitted[2].room_id == "r1");
  const auto& leave = std::get<room::DisconnectInput>(f.engine.submitted[2].input);
  CHECK(leave.switching);
  f.send(c, R"({"type":"REQUEST_SYNC"})");
  CHECK(f.engine.submitted.back().room_id == "r2");
}

TEST_CASE("a failed JOIN leaves the socket in its room", "[node]") {
  Fixture f;
  auto c = f.connect(1);
  f.join(c, "r1");
  f.engine.outcome_for = [](const engine::Submission&) {
    return engine::Outcome{true, room::JoinOutcome::rejected, false, false};
  };
  f.join(c, "r2");
  REQUIRE(f.engine.submitted.size() == 2);
  f.send(c, R"({"type":"REQUEST_SYNC"})");
  CHECK(f.engine.submitted.back().room_id == "r1");
}

TEST_CASE("deliveries reach the named local connections once, an unbound connection is not_joined", "[node]") {
  Fixture f;
  auto a = f.connect(1);
  auto b = f.connect(2);
  f.join(a, "r1");
  f.join(b, "r1", "u2");
  auto text = std::make_shared<const std::string>(R"({"type":"USER_LEFT","userId":"u2","seq":3})");
  std::string room_id = "r1";
  engine::Delivery delivery{room_id, {engine::OutFrame{{"n1/1", "n1/2", "n9/7"}, text, true}}, {}, {"n1/2"}};
  f.engine.host().deliver(delivery);
  CHECK(a->kinds() == std::vector<std::string>{"USER_LEFT"});
  CHECK(b->kinds() == std::vector<std::string>{"USER_LEFT"});
  f.send(b, R"({"type":"REQUEST_SYNC"})");
  CHECK(b->kinds().back() == "ERROR not_joined");
  f.send(a, R"({"type":"REQUEST_SYNC"})");
  CHECK(f.engine.submitted.back().room_id == "r1");
}

TEST_CASE("the engine's room handle from a seating JOIN comes back with the connection's inputs until it is unbound", "[node]") {
  Fixture f;
  auto handles = std::make_shared<std::vector<engine::RoomHandle>>();  // one per seating JOIN
  f.engine.outcome_for = [handles](const engine::Submission& s) {
    engine::Outcome o{true};
    if (std::holds_alternative<room::JoinInput>(s.input)) {
      o = engine::Outcome{true, room::JoinOutcome::joined, true, false, std::make_shared<std::string>(s.room_id)};
      handles->push_back(o.room);
    }
    return o;
  };
  auto a = f.connect(1);
  f.send(a, R"({"type":"REQUEST_SYNC"})");  // before any JOIN: no handle to give
  f.join(a, "r1");
  f.send(a, R"({"type":"REQUEST_SYNC"})");
  f.send(a, R"({"type":"PING"})");  // a member's PING: presence, with the handle
  REQUIRE(f.engine.submitted.size() == 3);
  REQUIRE(handles->size() == 1);
  CHECK_FALSE(f.engine.submitted[0].room);  // the JOIN itself
  CHECK(f.engine.submitted[1].room == handles->at(0));
  CHECK(f.engine.submitted[2].room == handles->at(0));

  // A switch to r2: the new room's handle from then on; the leave of r1 carries none.
  f.join(a, "r2");
  REQUIRE(f.engine.submitted.size() == 5);
  REQUIRE(handles->size() == 2);
  CHECK(f.engine.submitted[4].room_id == "r1");
  CHECK(std::holds_alternative<room::DisconnectInput>(f.engine.submitted[4].input));
  CHECK_FALSE(f.engine.submitted[4].room);
  f.send(a, R"({"type":"REQUEST_SYNC"})");
  CHECK(f.engine.submitted.back().room == handles->at(1));

  // The room unbinds the connection: the node lets go of the handle with the room.
  const auto held_by_test = [&](const engine::RoomHandle& h) {
    return 1 + std::count_if(f.engine.submitted.begin(), f.engine.submitted.end(),
                             [&](const engine::Submission& s) { return s.room == h; });
  };
  CHECK(handles->at(1).use_count() == held_by_test(handles->at(1)) + 1);  // and the node's
  std::string room_id = "r2";
  f.engine.host().deliver(engine::Delivery{room_id, {}, {}, {"n1/1"}});
  CHECK(handles->at(1).use_count() == held_by_test(handles->at(1)));
  f.join(a, "r2");
  f.node.closed(a);  // the disconnect carries the handle of the room it leaves
  CHECK(std::holds_alternative<room::DisconnectInput>(f.engine.submitted.back().input));
  CHECK(f.engine.submitted.back().room == handles->at(2));
}

TEST_CASE("a closed connection that was in a room is disconnected from it, without an origin", "[node]") {
  Fixture f;
  auto c = f.connect(1);
  f.join(c, "r1");
  f.node.closed(c);
  REQUIRE(f.engine.submitted.size() == 2);
  const auto& gone = std::get<room::DisconnectInput>(f.engine.submitted[1].input);
  CHECK(gone.conn == "n1/1");
  CHECK_FALSE(gone.switching);
  CHECK(f.engine.submitted[1].origin.empty());
  auto other = f.connect(2);
  f.node.closed(other);  // never joined: nothing to tell the engine
  CHECK(f.engine.submitted.size() == 2);
}

TEST_CASE("a closed connection is released: the node keeps nothing of it", "[node]") {
  Fixture f;
  auto c = f.connect(1);
  f.send(c, R"({"type":"PING"})");
  REQUIRE(c->kinds() == std::vector<std::string>{"PONG"});
  std::weak_ptr<net::WsConnection> gone = c;
  f.node.closed(c);
  c.reset();
  CHECK(gone.expired());
  CHECK(f.node.connection_count() == 0);
}

TEST_CASE("an HTTP answer that needs the engine is sent when the engine answers", "[node][http]") {
  Fixture f;
  std::optional<net::HttpResponse> response;
  f.node.http(net::HttpRequest{"GET", "/api/short-id/r1", "10.0.0.1"}, [&](net::HttpResponse r) { response = r; });
  CHECK_FALSE(response.has_value());
  REQUIRE(f.engine.short_id_done);
  f.engine.short_id_done(engine::ShortIdResult{"abcd1234", false});
  REQUIRE(response.has_value());
  CHECK(response->status == 200);
  CHECK(response->body.find("\"shortUrl\":\"http://localhost:4001/room/abcd1234\"") != std::string::npos);

  f.node.http(net::HttpRequest{"GET", "/api/short-id/r2", "10.0.0.1"}, [&](net::HttpResponse r) { response = r; });
  f.engine.short_id_done(engine::ShortIdResult{"", true});
  CHECK(response->status == 429);
  f.node.http(net::HttpRequest{"GET", "/api/short-id/r3", "10.0.0.1"}, [&](net::HttpResponse r) { response = r; });
  f.engine.short_id_done(engine::ShortIdResult{});
  CHECK(response->status == 503);
  const bool cors = std::any_of(response->headers.begin(), response->headers.end(),
                                [](const auto& h) { return h.first == "Access-Control-Allow-Origin"; });
  CHECK(cors);
}

TEST_CASE("a JOIN's PIN reaches the engine hashed with the room's salt and the pin secret, off the caller's thread", "[node]") {
  Fixture f;
  f.config.security.pin_secret = "pepper";
  auto c = f.connect(1);
  const auto caller = std::this_thread::get_id();
  std::thread::id submitted_on;
  f.engine.outcome_for = [&submitted_on](const engine::Submission&) {
    submitted_on = std::this_thread::get_id();
    return engine::Outcome{true, room::JoinOutcome::joined, true, false};
  };
  f.send(c, R"({"type":"JOIN","roomId":"r1","userId":"u1","pin":"2468"})");
  f.settle();
  REQUIRE(f.engine.submitted.size() == 1);
  const auto& in = join_input(f.engine.submitted[0]);
  CHECK(in.pin_salt == room::pin_salt_for("r1"));
  REQUIRE(in.pin_proof);
  CHECK(*in.pin_proof == room::hash_pin("2468", room::pin_salt_for("r1"), "pepper"));
  CHECK(in.pin_proof->peppered);
  CHECK(submitted_on != caller);
  // Frames after the JOIN wait for it: the connection's order holds across the worker.
  f.send(c, R"({"type":"REQUEST_SYNC"})");
  f.settle();
  REQUIRE(f.engine.submitted.size() == 2);
  CHECK(std::holds_alternative<room::FrameInput>(f.engine.submitted[1].input));

  // Without a PIN nothing is hashed, and the JOIN goes to the engine at once.
  auto d = f.connect(2);
  f.join(d, "r2");
  REQUIRE(f.engine.submitted.size() == 3);
  CHECK_FALSE(join_input(f.engine.submitted[2]).pin_proof);
  CHECK(submitted_on == caller);
}
