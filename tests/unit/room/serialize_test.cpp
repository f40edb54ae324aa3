#include "room_fixture.hpp"

#include <boost/json/parse.hpp>

#include <stdexcept>

using namespace tandem::room;
using namespace tandem::room::testing;

namespace {

RoomState rich_state() {
  RoomState state;
  state.room_id = "room:{x}*/1";
  state.exists = true;
  state.url = "https://www.netflix.com/watch/80100172?trackId=1";
  state.current_time = 1234.5678901234567;
  state.is_playing = true;
  state.position_at = kStart + 17;
  state.host_user_id = "u1";
  state.host_grace_deadline = kStart + 15'000;
  state.guest_control = true;
  state.pin = PinHash{"aabb", "ccdd"};
  state.members.push_back(Member{"u2", std::nullopt, "p2", "node-a/2", "node-a", "10.0.0.2", "tok2", kStart, kStart + 5});
  state.members.push_back(Member{"u3", "Ann \xC3\xA9", "p3", "node-b/3", "node-b", "::1", "tok3", kStart + 1, kStart + 9});
  state.seq = 18'446'744'073'709'551'000ull;
  state.gate = Gate{7, 0.1, true, kStart + 2, kStart + 7002, "u2", {"u2", "u3"}, {"u2"}};
  state.next_gate_id = 8;
  state.empty_since = kStart - 1;
  state.empty_deadline = kStart + 599'999;
  state.archived = false;
  state.created_at = kStart - 100;
  state.last_activity = kStart + 99;
  return state;
}

}  // namespace

TEST_CASE("to_json and from_json round-trip a room exactly", "[room][serialize]") {
  const RoomState state = rich_state();
  CHECK(from_json(to_json(state)) == state);
  CHECK(from_json(boost::json::parse(boost::json::serialize(to_json(state)))) == state);
  const RoomState empty;
  CHECK(from_json(to_json(empty)) == empty);
  CHECK(from_json(boost::json::parse(boost::json::serialize(to_json(empty)))) == empty);
}

TEST_CASE("doubles survive the text form bit for bit", "[room][serialize]") {
  RoomState state = rich_state();
  for (double value : {1234.5678901234567, 0.1, 1e-300, 5e-324, 1.7976931348623157e308, 0.0, 86399.999999999985}) {
    state.current_time = value;
    state.gate->target = value;
    CHECK(from_json(boost::json::parse(boost::json::serialize(to_json(state)))) == state);
  }
}

TEST_CASE("a live room round-trips through its JSON text", "[room][serialize]") {
  RoomFixture room;
  populate(room, 4);
  room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play","currentTime":12.3})");
  room.send("node-a/1", R"({"type":"SEEK","currentTime":99.9,"isPlaying":true})");
  room.disconnect("node-a/1");
  const std::string text = boost::json::serialize(to_json(room.state));
  CHECK(from_json(boost::json::parse(text)) == room.state);
}

TEST_CASE("from_json rejects malformed documents with invalid_argument", "[room][serialize]") {
  const boost::json::value good = to_json(rich_state());
  auto mutated = [&](auto change) {
    boost::json::value copy = good;
    change(copy.as_object());
    return copy;
  };
  CHECK_THROWS_AS(from_json(boost::json::value(nullptr)), std::invalid_argument);
  CHECK_THROWS_AS(from_json(boost::json::value(boost::json::array())), std::invalid_argument);
  CHECK_THROWS_AS(from_json(boost::json::value("state")), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o.erase("seq"); })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["v"] = 2; })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["seq"] = -1; })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["seq"] = "1"; })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["url"] = 5; })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["isPlaying"] = 1; })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["currentTime"] = "1x"; })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["currentTime"] = "nan"; })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["currentTime"] = boost::json::array(); })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["positionAt"] = 1.5; })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["members"] = boost::json::object(); })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["members"].as_array().emplace_back(1); })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["members"].as_array()[0].as_object().erase("conn"); })),
                  std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["gate"].as_object()["expected"] = boost::json::array{1}; })),
                  std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["pin"] = "1234"; })), std::invalid_argument);
  CHECK_THROWS_AS(from_json(mutated([](auto& o) { o["hostGraceDeadline"] = "soon"; })), std::invalid_argument);
  CHECK_NOTHROW(from_json(mutated([](auto& o) { o["unknownFutureKey"] = 1; })));
  CHECK(from_json(mutated([](auto& o) { o["currentTime"] = 2.5; })).current_time == 2.5);  // numbers too
}

TEST_CASE("PIN hashes are salted PBKDF2 and compared in constant time", "[room][pin]") {
  const PinHash a = hash_pin("123456", "0011");
  CHECK(a.salt == "0011");
  CHECK(a.hash.size() == 64);
  CHECK(a.hash.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(hash_pin("123456", "0011") == a);
  CHECK(hash_pin("123456", "0012").hash != a.hash);
  CHECK(hash_pin("123457", "0011").hash != a.hash);
  CHECK(pin_matches(a, "123456"));
  CHECK_FALSE(pin_matches(a, "12345"));
  CHECK_FALSE(pin_matches(a, ""));
  CHECK_FALSE(pin_matches(PinHash{"0011", "short"}, "123456"));
}

TEST_CASE("security.pin_secret: a peppered hash needs the secret, older hashes still verify, snapshots keep the mark", "[room][pin]") {
  const PinHash plain = hash_pin("123456", "0011");
  const PinHash peppered = hash_pin("123456", "0011", "s3cret");
  CHECK(peppered.peppered);
  CHECK_FALSE(plain.peppered);
  CHECK(peppered.hash != plain.hash);
  CHECK(hash_pin("123456", "0011", "other").hash != peppered.hash);
  CHECK(pin_matches(peppered, "123456", "s3cret"));
  CHECK_FALSE(pin_matches(peppered, "123456", "other"));
  CHECK_FALSE(pin_matches(peppered, "123456"));        // without the secret: never
  CHECK(pin_matches(plain, "123456", "s3cret"));         // hashed before a secret was configured
  CHECK_FALSE(pin_matches(plain, "654321", "s3cret"));

  RoomState s;
  s.room_id = "r";
  s.exists = true;
  s.pin = peppered;
  const RoomState back = from_json(to_json(s));
  REQUIRE(back.pin);
  CHECK(*back.pin == peppered);
  s.pin = plain;
  const auto json = to_json(s);
  CHECK_FALSE(json.at("pin").as_object().contains("peppered"));  // older readers see what they know
  CHECK(*from_json(json).pin == plain);
}
