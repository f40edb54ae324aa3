// The memory engine through its Engine interface: rooms found by the node's handle or by id.
// The journal behind it is an in-memory one (the SQLite journal has its own integration tests).
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/engine/memory/memory_engine.hpp"
#include "core/metrics/metrics.hpp"
#include "core/proto/frame.hpp"

namespace engine = tandem::engine;
namespace proto = tandem::proto;
namespace room = tandem::room;

namespace {

class MemoryJournal final : public engine::Journal {
 public:
  void append(std::vector<engine::AuditEvent> e) override { events.insert(events.end(), e.begin(), e.end()); }
  void put_room(engine::RoomSnapshot) override {}
  void put_short_id(engine::ShortIdRecord) override {}
  std::size_t backlog() const override { return 0; }
  std::size_t capacity() const override { return 1000; }
  bool healthy() const override { return true; }
  std::vector<engine::RoomSnapshot> load_unarchived_rooms() override { return {}; }
  std::vector<engine::ShortIdRecord> load_short_ids(std::int64_t) override { return {}; }
  bool drain(std::chrono::milliseconds) override { return true; }
  std::vector<engine::AuditEvent> events;
};

class Host final : public engine::EngineHost {
 public:
  void deliver(const engine::Delivery&) override { ++deliveries; }
  int deliveries = 0;
};

struct Fixture {
  Fixture() : memory(io, engine::memory::MemoryEngineOptions{"n1"}, journal, registry) { memory.start(host); }

  engine::Outcome submit(engine::Submission s) {
    std::optional<engine::Outcome> result;
    memory.submit(std::move(s), [&](engine::Outcome o) { result = std::move(o); });
    REQUIRE(result);  // the memory engine completes inline
    return std::move(*result);
  }
  engine::Outcome join(const std::string& room_id, const std::string& conn, engine::RoomHandle handle = {}) {
    room::JoinInput in;
    in.conn = conn;
    in.node_id = "n1";
    in.client_addr = "10.0.0.1";
    in.join.room_id = room_id;
    in.join.user_id = "user-" + conn.substr(3);
    in.peer_id = "peer-" + conn.substr(3);
    in.session_token = "00112233445566778899aabbccddeeff";
    in.pin_salt = room::pin_salt_for(room_id);
    return submit(engine::Submission{room_id, std::move(in), conn, std::move(handle)});
  }
  engine::Outcome leave(const std::string& room_id, const std::string& conn, engine::RoomHandle handle) {
    auto parsed = proto::parse(R"({"type":"LEAVE"})");
    REQUIRE(std::holds_alternative<proto::Frame>(parsed));
    return submit(engine::Submission{room_id, room::FrameInput{conn, "n1", std::get<proto::Frame>(std::move(parsed))},
                                     conn, std::move(handle)});
  }
  std::size_t presence(const std::string& room_id) {
    std::optional<std::size_t> count;
    memory.presence(room_id, [&](std::optional<std::size_t> n) { count = n; });
    REQUIRE(count);
    return *count;
  }

  boost::asio::io_context io;
  tandem::metrics::Registry registry;
  MemoryJournal journal;
  Host host;
  engine::memory::MemoryEngine memory;
};

}  // namespace

TEST_CASE("a seating JOIN hands out the room's handle, and inputs given it reach that room", "[engine]") {
  Fixture f;
  const auto a = f.join("r1", "n1/1");
  const auto b = f.join("r1", "n1/2");
  REQUIRE(a.seated);
  REQUIRE(a.room);
  CHECK(b.room == a.room);  // one room, one handle
  CHECK(f.presence("r1") == 2);
  CHECK(f.leave("r1", "n1/2", b.room).applied);
  CHECK(f.presence("r1") == 1);
}

TEST_CASE("a stale handle (its room ended) or another room's handle is set aside: the room is found by id", "[engine]") {
  Fixture f;
  const auto first = f.join("r1", "n1/1");
  REQUIRE(first.room);
  f.leave("r1", "n1/1", first.room);  // the last member leaves: the room ends
  CHECK(f.presence("r1") == 0);

  // A new room of the same id: neither a JOIN nor a frame given the old handle lands in the old one.
  const auto c = f.join("r1", "n1/3", first.room);
  REQUIRE(c.seated);
  CHECK(c.room != first.room);
  f.join("r1", "n1/4");
  CHECK(f.presence("r1") == 2);
  f.leave("r1", "n1/4", first.room);
  CHECK(f.presence("r1") == 1);

  // A handle of r2 given with r1: the input goes to r1.
  const auto other = f.join("r2", "n1/5");
  f.leave("r1", "n1/3", other.room);
  CHECK(f.presence("r1") == 0);
  CHECK(f.presence("r2") == 1);
}

TEST_CASE("the room timer resolves a due deadline: an emptied room ends after empty_ttl", "[engine]") {
  boost::asio::io_context io;
  tandem::metrics::Registry registry;
  MemoryJournal journal;
  Host host;
  engine::memory::MemoryEngineOptions options{"n1"};
  options.settings.empty_ttl = 300;
  options.settings.host_grace = 100;
  engine::memory::MemoryEngine memory(io, options, journal, registry);
  memory.start(host);
  room::JoinInput in;
  in.conn = "n1/1";
  in.node_id = "n1";
  in.client_addr = "10.0.0.1";
  in.join.room_id = "r1";
  in.join.user_id = "u1";
  in.peer_id = "p1";
  in.session_token = "00112233445566778899aabbccddeeff";
  in.pin_salt = room::pin_salt_for("r1");
  memory.submit(engine::Submission{"r1", std::move(in), "n1/1"}, {});
  // The socket closes without LEAVE: the room stays for empty_ttl, then the timer ends it.
  memory.submit(engine::Submission{"r1", room::DisconnectInput{"n1/1", false}, {}}, {});
  REQUIRE(memory.room_count() == 1);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (memory.room_count() == 1 && std::chrono::steady_clock::now() < give_up) {
    io.run_for(std::chrono::milliseconds(50));
  }
  CHECK(memory.room_count() == 0);
  memory.stop(std::chrono::milliseconds(100));
}
