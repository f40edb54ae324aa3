// The memory engine through its Engine interface: rooms found by the node's handle or by id.
// The journal behind it is an in-memory one (the SQLite journal has its own integration tests).
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <functional>
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
  explicit Fixture(const engine::memory::MemoryEngineOptions& options = {"n1"})
      : memory(io, options, journal, registry) {
    memory.start(host);
  }

  engine::Outcome submit(engine::Submission s) {
    std::optional<engine::Outcome> result;
    memory.submit(std::move(s), [&](engine::Outcome o) { result = std::move(o); });
    REQUIRE(result);  // the memory engine completes inline
    return std::move(*result);
  }
  engine::Outcome join(const std::string& room_id, const std::string& conn, engine::RoomHandle handle = {},
                       const std::string& client_addr = "10.0.0.1") {
    room::JoinInput in;
    in.conn = conn;
    in.node_id = "n1";
    in.client_addr = client_addr;
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
  engine::memory::MemoryEngineOptions options{"n1"};
  options.settings.empty_ttl = 300;
  options.settings.host_grace = 100;
  Fixture f(options);
  f.join("r1", "n1/1");
  // The socket closes without LEAVE: the room stays for empty_ttl, then the timer ends it.
  f.submit(engine::Submission{"r1", room::DisconnectInput{"n1/1", false}, {}});
  REQUIRE(f.memory.room_count() == 1);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (f.memory.room_count() == 1 && std::chrono::steady_clock::now() < give_up) {
    f.io.run_for(std::chrono::milliseconds(50));
  }
  CHECK(f.memory.room_count() == 0);
  f.memory.stop(std::chrono::milliseconds(100));
}

TEST_CASE("a /status rebuild is rendered a slice per loop turn and published whole", "[engine]") {
  engine::memory::MemoryEngineOptions options{"n1"};
  options.rooms_per_ip_minute = 1000;
  SECTION("a zero slice: one group of rooms per turn") { options.status_slice = std::chrono::microseconds(0); }
  SECTION("a slice longer than the whole rebuild: one turn") { options.status_slice = std::chrono::seconds(5); }
  const bool sliced = options.status_slice.count() == 0;
  Fixture f(options);
  auto& memory = f.memory;
  auto& io = f.io;
  REQUIRE(memory.status_rooms()->rooms.empty());  // built by start(), before any room

  constexpr int kRooms = 320;  // ten groups of 32
  for (int i = 0; i < kRooms; ++i) {
    const auto n = std::to_string(i);
    REQUIRE(f.join("room-" + n, "n1/" + n, {}, "10.0.0." + std::to_string(i % 200)).seated);
  }

  // Another handler that runs once per loop turn, counting the turns while a rebuild is pending.
  int turns_while_rebuilding = 0;
  std::vector<std::size_t> sizes_seen;
  bool published = false;
  std::function<void()> probe = [&] {
    const auto size = memory.status_rooms()->rooms.size();
    if (sizes_seen.empty() || sizes_seen.back() != size) sizes_seen.push_back(size);
    if (size == kRooms) {
      published = true;
      return;
    }
    if (memory.status_rebuilding()) ++turns_while_rebuilding;
    boost::asio::post(io, probe);
  };
  boost::asio::post(io, probe);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!published && std::chrono::steady_clock::now() < give_up) io.run_one_for(std::chrono::milliseconds(100));
  REQUIRE(published);
  // Never a partial snapshot: from no room to every room at once.
  CHECK(sizes_seen == std::vector<std::size_t>{0, kRooms});
  if (sliced) {
    CHECK(turns_while_rebuilding >= 9);  // the other nine groups each waited for a turn
  } else {
    CHECK(turns_while_rebuilding == 0);
  }
  CHECK(memory.status_rooms()->by_addr.at("10.0.0.7").size() == 2);  // rooms 7 and 207
  CHECK(memory.status_rooms()->local_rooms == kRooms);
  memory.stop(std::chrono::milliseconds(100));
}
