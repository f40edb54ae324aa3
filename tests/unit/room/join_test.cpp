#include "room_fixture.hpp"

using namespace tandem::room;
using namespace tandem::room::testing;

TEST_CASE("first JOIN creates the room with the joiner as host", "[room][join]") {
  RoomFixture room;
  const Effects fx = room.join("node-a/1", "u1", {.username = "Ann"});
  CHECK(fx.join == JoinOutcome::joined);
  CHECK(fx.changed);
  CHECK(room.state.exists);
  CHECK(room.state.room_id == "room-1");
  CHECK(room.state.host_user_id == "u1");
  CHECK(room.state.url.empty());
  CHECK(room.state.current_time == 0);
  CHECK_FALSE(room.state.is_playing);
  CHECK_FALSE(room.state.guest_control);
  CHECK_FALSE(room.state.pin);
  CHECK(room.state.created_at == kStart);
  REQUIRE(room.state.members.size() == 1);
  const Member& m = room.state.members[0];
  CHECK(m.user_id == "u1");
  CHECK(m.username == "Ann");
  CHECK(m.peer_id == "peer-1");
  CHECK(m.conn == "node-a/1");
  CHECK(m.node_id == "node-a");
  CHECK(m.client_addr == "10.0.0.1");
  CHECK(m.session_token == "00000000000000000000000000000001");
  CHECK(m.joined_at == kStart);

  CHECK(types(fx) == ss({"USER_JOINED", "ROOM_STATE"}));
  CHECK(fx.frames[0].recipients.empty());
  CHECK(fx.frames[0].sequenced);
  const json::object& state = only(fx, "ROOM_STATE").frame;
  CHECK(only(fx, "ROOM_STATE").recipients == ss({"node-a/1"}));
  CHECK_FALSE(only(fx, "ROOM_STATE").sequenced);
  CHECK(keys(state) == ss({"type", "roomId", "url", "currentTime", "isPlaying", "hostUserId", "guestControlEnabled",
                           "users", "nodeId", "seq", "sessionToken", "timestamp"}));
  CHECK(state.at("roomId") == "room-1");
  CHECK(state.at("url") == "");
  CHECK(state.at("currentTime") == 0);
  CHECK(state.at("isPlaying") == false);
  CHECK(state.at("hostUserId") == "u1");
  CHECK(state.at("guestControlEnabled") == false);
  CHECK(json::serialize(state.at("users")) == R"([{"userId":"u1","username":"Ann"}])");
  CHECK(state.at("nodeId") == "node-a");
  CHECK(state.at("seq") == 1);
  CHECK(state.at("sessionToken") == "00000000000000000000000000000001");
  CHECK(state.at("timestamp") == kStart);
}

TEST_CASE("JOIN sends USER_JOINED to the others and ROOM_STATE to the joiner only", "[room][join]") {
  RoomFixture room;
  room.join("node-a/1", "u1", {.username = "Ann"});
  room.now += 5;
  room.join("node-b/2", "u2", {.node = "node-b"});
  room.now += 5;
  const Effects fx = room.join("node-a/3", "u3", {.username = "Cy"});

  const OutFrame& joined = only(fx, "USER_JOINED");
  CHECK(sorted(joined.recipients) == ss({"node-a/1", "node-b/2"}));
  CHECK(joined.sequenced);
  CHECK(json::serialize(joined.frame) ==
        R"({"type":"USER_JOINED","userId":"u3","peerId":"peer-3","username":"Cy","timestamp":1732665600010,"seq":3})");

  const OutFrame& state = only(fx, "ROOM_STATE");
  CHECK(state.recipients == ss({"node-a/3"}));
  CHECK(json::serialize(state.frame.at("users")) ==
        R"([{"userId":"u1","username":"Ann"},{"userId":"u2","username":null},{"userId":"u3","username":"Cy"}])");
  CHECK(state.frame.at("seq") == 3);
  CHECK(state.frame.at("hostUserId") == "u1");
  CHECK(state.frame.at("nodeId") == "node-a");  // the joiner's node
  CHECK(room.member_ids() == ss({"u1", "u2", "u3"}));
}

TEST_CASE("USER_JOINED names a joiner without a name as null", "[room][join]") {
  RoomFixture room;
  room.join("node-a/1", "u1");
  const Effects fx = room.join("node-a/2", "u2");
  CHECK(only(fx, "USER_JOINED").frame.at("username").is_null());
}

TEST_CASE("fix: a long username is cut to 50 characters, never rejected", "[room][join]") {
  RoomFixture room;
  const std::string name(200, 'n');
  const proto::ParseResult parsed =
      proto::parse(R"({"type":"JOIN","roomId":"room-1","userId":"u1","username":")" + name + "\"}");
  const proto::Frame& frame = std::get<proto::Frame>(parsed);
  REQUIRE_FALSE(frame.field_error);
  JoinInput input{"node-a/1", "node-a", "10.0.0.1", std::get<proto::Join>(frame.body), "p", "t", "s"};
  const Effects fx = room.apply_input(input);
  CHECK(fx.join == JoinOutcome::joined);
  CHECK(room.member("u1")->username == std::string(50, 'n'));
}

TEST_CASE("a room created with a PIN stores only its salted hash", "[room][join][pin]") {
  RoomFixture room;
  const Effects fx = room.join("node-a/1", "u1", {.pin = "4321"});
  REQUIRE(room.state.pin);
  CHECK(room.state.pin->salt == "00112233445566778899aabbccddeeff");
  CHECK(room.state.pin->hash.size() == 64);
  CHECK(room.state.pin->hash.find("4321") == std::string::npos);
  CHECK(pin_matches(*room.state.pin, "4321"));
  CHECK_FALSE(pin_matches(*room.state.pin, "4322"));
  CHECK(json::serialize(to_json(room.state)).find("4321") == std::string::npos);
  CHECK(only_audit(fx, "ROOM_CREATED").detail.at("hasPin") == true);
}

TEST_CASE("fix: a wrong PIN gets bad_pin and leaves the socket unbound", "[room][join][pin]") {
  RoomFixture room;
  room.join("node-a/1", "u1", {.pin = "4321"});
  const RoomState before = room.state;
  const Effects fx = room.join("node-a/2", "u2", {.pin = "0000", .addr = "192.0.2.7"});
  CHECK(fx.join == JoinOutcome::pin_rejected);
  REQUIRE(fx.frames.size() == 1);
  CHECK(fx.frames[0].recipients == ss({"node-a/2"}));
  CHECK(fx.frames[0].frame == error("bad_pin", "Invalid or missing PIN"));
  CHECK(fx.closes.empty());
  // Nothing changes but the room's count of wrong PINs (limits.pin_attempts_per_room_minute).
  RoomState expected = before;
  expected.pin_failures = {room.now};
  CHECK(room.state == expected);
  CHECK(fx.changed);
  CHECK_FALSE(room.member("u2"));
  const AuditRecord& audit = only_audit(fx, "PIN_REJECTED");
  CHECK(audit.user_id == "u2");
  CHECK(audit.seq == room.state.seq);
  CHECK(audit.detail.at("reason") == "bad_pin");
  CHECK(audit.detail.at("clientAddr") == "192.0.2.7");

  // The unbound socket cannot act as a member.
  const Effects next = room.send("node-a/2", R"({"type":"PLAY_PAUSE","control":"play"})");
  CHECK(has_error(next, "node-a/2", "not_joined"));
}

TEST_CASE("a missing PIN on a PIN room counts as a wrong one", "[room][join][pin]") {
  RoomFixture room;
  room.join("node-a/1", "u1", {.pin = "4321"});
  const Effects fx = room.join("node-a/2", "u2");
  CHECK(fx.join == JoinOutcome::pin_rejected);
  CHECK(has_error(fx, "node-a/2", "bad_pin"));
  CHECK(audit_types(fx) == ss({"PIN_REJECTED"}));
}

TEST_CASE("a malformed PIN is invalid_pin and counts as a wrong attempt on a PIN room", "[room][join][pin]") {
  RoomFixture room;
  room.join("node-a/1", "u1", {.pin = "4321"});
  const Effects fx = room.join("node-a/2", "u2", {.pin = "12345678901234567", .pin_invalid = true});
  CHECK(fx.join == JoinOutcome::pin_rejected);
  CHECK(has_error(fx, "node-a/2", "invalid_pin"));
  CHECK(only_audit(fx, "PIN_REJECTED").detail.at("reason") == "invalid_pin");
  CHECK_FALSE(room.member("u2"));
}

TEST_CASE("a malformed PIN elsewhere is a validation error that counts nothing", "[room][join][pin]") {
  RoomFixture room;
  Effects fx = room.join("node-a/1", "u1", {.pin = "{}", .pin_invalid = true});
  CHECK(fx.join == JoinOutcome::rejected);
  CHECK(has_error(fx, "node-a/1", "invalid_pin"));
  CHECK_FALSE(room.state.exists);
  CHECK_FALSE(fx.changed);
  CHECK(fx.audit.empty());

  room.join("node-a/1", "u1");
  fx = room.join("node-a/2", "u2", {.pin = "true", .pin_invalid = true});
  CHECK(fx.join == JoinOutcome::rejected);
  CHECK(has_error(fx, "node-a/2", "invalid_pin"));
  CHECK(fx.audit.empty());
  CHECK_FALSE(room.member("u2"));
}

TEST_CASE("the right PIN joins, a numeric PIN equals its decimal string", "[room][join][pin]") {
  RoomFixture room;
  room.join("node-a/1", "u1", {.pin = "123456"});
  const proto::ParseResult parsed = proto::parse(R"({"type":"JOIN","roomId":"room-1","userId":"u2","pin":123456})");
  JoinInput input{"node-a/2", "node-a", "10.0.0.2", std::get<proto::Join>(std::get<proto::Frame>(parsed).body),
                  "peer-x", "0123456789abcdef0123456789abcdef", "ffee"};
  const Effects fx = room.apply_input(input);
  CHECK(fx.join == JoinOutcome::joined);
  CHECK(room.member("u2"));
  CHECK(room.state.pin->salt == "00112233445566778899aabbccddeeff");  // the creator's salt stays
}

TEST_CASE("a blocked address gets too_many_attempts and close 1008 without the PIN being checked",
          "[room][join][pin]") {
  RoomFixture room;
  room.join("node-a/1", "u1", {.pin = "4321"});
  const Effects fx = room.join("node-a/2", "u2", {.pin = "4321", .addr_blocked = true});
  CHECK(fx.join == JoinOutcome::pin_rejected);
  REQUIRE(fx.frames.size() == 1);
  CHECK(fx.frames[0].frame.at("code") == "too_many_attempts");
  REQUIRE(fx.closes.size() == 1);
  CHECK(fx.closes[0].conn == "node-a/2");
  CHECK(fx.closes[0].code == 1008);
  CHECK(only_audit(fx, "PIN_REJECTED").detail.at("reason") == "too_many_attempts");
  CHECK_FALSE(room.member("u2"));

  SECTION("a room without a PIN does not care") {
    RoomFixture open;
    open.join("node-a/1", "u1");
    const Effects ok = open.join("node-a/2", "u2", {.addr_blocked = true});
    CHECK(ok.join == JoinOutcome::joined);
    CHECK(ok.closes.empty());
  }
}

TEST_CASE("fix: two racing first JOINs: the second sees the first's host and is checked against its PIN",
          "[room][join][pin]") {
  RoomFixture room;
  room.join("node-a/1", "u1", {.pin = "1111"});
  Effects fx = room.join("node-b/2", "u2", {.pin = "2222", .node = "node-b"});
  CHECK(fx.join == JoinOutcome::pin_rejected);
  CHECK(room.state.host_user_id == "u1");
  fx = room.join("node-b/2", "u2", {.pin = "1111", .node = "node-b"});
  CHECK(fx.join == JoinOutcome::joined);
  CHECK(only(fx, "ROOM_STATE").frame.at("hostUserId") == "u1");
  CHECK(room.state.host_user_id == "u1");
}

TEST_CASE("room_full counts distinct members, a takeover or re-join is not blocked", "[room][join]") {
  RoomFixture room;
  room.settings.max_room_members = 2;
  room.join("node-a/1", "u1");
  room.join("node-a/2", "u2");
  Effects fx = room.join("node-a/3", "u3");
  CHECK(fx.join == JoinOutcome::rejected);
  CHECK(fx.frames.size() == 1);
  CHECK(fx.frames[0].frame == error("room_full", "Room is full"));
  CHECK(fx.audit.empty());
  CHECK_FALSE(fx.changed);
  CHECK(room.member_ids() == ss({"u1", "u2"}));

  fx = room.join("node-a/9", "u2");  // takeover
  CHECK(fx.join == JoinOutcome::joined);
  fx = room.join("node-a/9", "u2");  // same socket again
  CHECK(fx.join == JoinOutcome::joined);
  fx = room.join("node-a/9", "u4");  // same socket, other user: frees its seat first
  CHECK(fx.join == JoinOutcome::joined);
  CHECK(room.member_ids() == ss({"u1", "u4"}));
}

TEST_CASE("fix: a seat takeover keeps the user, its place and its host role", "[room][join]") {
  RoomFixture room;
  populate(room, 3);  // u1 host on node-a/1, u2, u3
  const Millis first_join = room.member("u1")->joined_at;
  const Effects fx = room.join("node-b/7", "u1", {.username = "Ann", .node = "node-b"});
  CHECK(fx.join == JoinOutcome::joined);
  CHECK(fx.replaced_conn == "node-a/1");

  CHECK(received(fx, "node-a/1") == std::vector<json::object>{error("replaced", "Connection replaced by a newer one")});
  REQUIRE(fx.closes.size() == 1);
  CHECK(fx.closes[0].conn == "node-a/1");
  CHECK(fx.closes[0].code == 4001);

  CHECK(types(fx) == ss({"ERROR", "USER_JOINED", "ROOM_STATE"}));
  const OutFrame& joined = only(fx, "USER_JOINED");
  CHECK(sorted(joined.recipients) == ss({"node-a/2", "node-b/3"}));
  CHECK(joined.frame.at("peerId") == "peer-4");
  CHECK(only(fx, "ROOM_STATE").recipients == ss({"node-b/7"}));
  CHECK(room.member_ids() == ss({"u1", "u2", "u3"}));
  CHECK(room.member("u1")->conn == "node-b/7");
  CHECK(room.member("u1")->node_id == "node-b");
  CHECK(room.member("u1")->joined_at == first_join);
  CHECK(room.state.host_user_id == "u1");
  CHECK(only_audit(fx, "USER_JOINED").detail.at("takeover") == true);

  // The old socket's close removes nobody, sends no USER_LEFT and elects nobody.
  room.now += 100;
  const Effects closed = room.disconnect("node-a/1");
  CHECK(closed.frames.empty());
  CHECK(closed.audit.empty());
  CHECK_FALSE(closed.changed);
  CHECK_FALSE(closed.unbound_conn);
  CHECK(room.member_ids() == ss({"u1", "u2", "u3"}));
  CHECK(room.state.host_user_id == "u1");
  CHECK_FALSE(room.state.host_grace_deadline);
}

TEST_CASE("strict identity: a takeover needs the seat's session token unless the old socket is stale",
          "[room][join]") {
  RoomFixture room;
  room.settings.strict_identity = true;
  const Effects first = room.join("node-a/1", "u1");
  const std::string token(only(first, "ROOM_STATE").frame.at("sessionToken").as_string());
  room.now += 1000;

  Effects fx = room.join("node-a/2", "u1");
  CHECK(fx.join == JoinOutcome::rejected);
  CHECK(received(fx, "node-a/2") == std::vector<json::object>{error("identity_in_use", "User id is in use by another connection")});
  REQUIRE(fx.closes.size() == 1);
  CHECK(fx.closes[0].conn == "node-a/2");
  CHECK(fx.closes[0].code == 4003);
  CHECK(room.member("u1")->conn == "node-a/1");
  CHECK_FALSE(fx.replaced_conn);

  fx = room.join("node-a/3", "u1", {.token = "ffffffffffffffffffffffffffffffff"});
  CHECK(fx.join == JoinOutcome::rejected);

  fx = room.join("node-a/4", "u1", {.token = token});
  CHECK(fx.join == JoinOutcome::joined);
  CHECK(fx.replaced_conn == "node-a/1");
  const std::string renewed(only(fx, "ROOM_STATE").frame.at("sessionToken").as_string());
  CHECK(renewed != token);
  CHECK(room.member("u1")->session_token == renewed);

  SECTION("the old token no longer works") {
    const Effects again = room.join("node-a/5", "u1", {.token = token});
    CHECK(again.join == JoinOutcome::rejected);
  }
  SECTION("a silent seat counts as stale after stale_after") {
    room.now += room.settings.stale_after - 1;
    CHECK(room.join("node-a/6", "u1").join == JoinOutcome::rejected);
    room.now += 1;
    CHECK(room.join("node-a/6", "u1").join == JoinOutcome::joined);
  }
  SECTION("any frame keeps the seat fresh") {
    room.now += room.settings.stale_after - 1;
    room.send("node-a/4", R"({"type":"PING"})");
    room.now += 10;
    CHECK(room.join("node-a/6", "u1").join == JoinOutcome::rejected);
  }
  SECTION("a pong (SeenInput) keeps the seat fresh") {
    room.now += room.settings.stale_after - 1;
    room.apply_input(SeenInput{"node-a/4"});
    room.now += 10;
    CHECK(room.join("node-a/6", "u1").join == JoinOutcome::rejected);
  }
}

TEST_CASE("strict identity is off by default: a takeover needs no token", "[room][join]") {
  RoomFixture room;
  room.join("node-a/1", "u1");
  CHECK(room.join("node-a/2", "u1").join == JoinOutcome::joined);
}

TEST_CASE("a repeated JOIN on the same socket answers ROOM_STATE again and USER_JOINED to the others",
          "[room][join]") {
  RoomFixture room;
  populate(room, 2);
  const std::string old_token = room.member("u2")->session_token;
  const Effects fx = room.join("node-a/2", "u2", {.username = "Bea"});
  CHECK(fx.join == JoinOutcome::joined);
  CHECK_FALSE(fx.replaced_conn);
  CHECK(fx.closes.empty());
  CHECK(types(fx) == ss({"USER_JOINED", "ROOM_STATE"}));
  CHECK(only(fx, "USER_JOINED").recipients == ss({"node-a/1"}));
  CHECK(only(fx, "ROOM_STATE").recipients == ss({"node-a/2"}));
  CHECK(room.member_ids() == ss({"u1", "u2"}));
  CHECK(room.member("u2")->username == "Bea");
  CHECK(room.member("u2")->session_token != old_token);
}

TEST_CASE("a socket seated here that re-JOINs as another user leaves its old seat first", "[room][join]") {
  RoomFixture room;
  populate(room, 3);  // u1 host on node-a/1
  const Effects fx = room.join("node-a/1", "u9");
  CHECK(fx.join == JoinOutcome::joined);
  CHECK(types(fx) == ss({"HOST_CHANGED", "USER_LEFT", "USER_JOINED", "ROOM_STATE"}));
  CHECK(received_types(fx, "node-a/1") == ss({"ROOM_STATE"}));
  CHECK(only(fx, "USER_LEFT").frame.at("userId") == "u1");
  CHECK(sorted(only(fx, "USER_LEFT").recipients) == ss({"node-a/2", "node-b/3"}));
  CHECK(only(fx, "HOST_CHANGED").frame.at("hostUserId") == "u2");
  CHECK(room.member_ids() == ss({"u2", "u3", "u9"}));
  CHECK(room.state.host_user_id == "u2");
  CHECK(only(fx, "ROOM_STATE").frame.at("hostUserId") == "u2");
  CHECK_FALSE(fx.unbound_conn);
  CHECK_FALSE(fx.archived);
}

TEST_CASE("a failed JOIN leaves the socket in its seat", "[room][join]") {
  RoomFixture room;
  room.settings.strict_identity = true;
  populate(room, 2);
  const RoomState before = room.state;
  const Effects fx = room.join("node-a/1", "u2");  // u2's seat is fresh and held elsewhere
  CHECK(fx.join == JoinOutcome::rejected);
  CHECK(room.state == before);
}

TEST_CASE("a host who re-joins within the grace keeps the role", "[room][join][host]") {
  RoomFixture room;
  populate(room, 2);
  room.disconnect("node-a/1");
  CHECK(room.state.host_user_id == "u1");
  REQUIRE(room.state.host_grace_deadline);
  room.now += room.settings.host_grace - 1;
  const Effects fx = room.join("node-a/5", "u1");
  CHECK(fx.join == JoinOutcome::joined);
  CHECK(count_type(fx, "HOST_CHANGED") == 0);
  CHECK(room.state.host_user_id == "u1");
  CHECK_FALSE(room.state.host_grace_deadline);
  CHECK(room.member_ids() == ss({"u2", "u1"}));  // a new place: the seat was gone
  room.now += 10'000;
  CHECK(room.tick().frames.empty());
}

TEST_CASE("during the host grace ROOM_STATE names the absent host", "[room][join][host]") {
  RoomFixture room;
  populate(room, 2);
  room.disconnect("node-a/1");
  room.now += 1000;
  const Effects fx = room.join("node-a/3", "u3");
  CHECK(only(fx, "ROOM_STATE").frame.at("hostUserId") == "u1");
  CHECK(count_type(fx, "HOST_CHANGED") == 0);
}

TEST_CASE("a joiner becomes host when the host is absent and its grace has expired", "[room][join][host]") {
  RoomFixture room;
  room.join("node-a/1", "u1");
  room.disconnect("node-a/1");  // empty room, host grace running
  room.now += room.settings.host_grace;
  SECTION("after the grace was resolved by a tick") {
    const Effects ticked = room.tick();
    CHECK(ticked.frames.empty());
    CHECK_FALSE(room.state.host_grace_deadline);
  }
  SECTION("without a tick in between") {}

  const Effects fx = room.join("node-a/2", "u2");
  CHECK(types(fx) == ss({"USER_JOINED", "ROOM_STATE", "HOST_CHANGED"}));
  const json::object& state = only(fx, "ROOM_STATE").frame;
  CHECK(state.at("hostUserId") == "u2");
  const OutFrame& changed = only(fx, "HOST_CHANGED");
  CHECK(changed.recipients == ss({"node-a/2"}));
  CHECK(changed.frame.at("hostUserId") == "u2");
  CHECK(changed.frame.at("seq").as_uint64() == state.at("seq").as_uint64() + 1);
  CHECK(room.state.host_user_id == "u2");
  CHECK(only_audit(fx, "HOST_CHANGED").detail.at("reason") == "join");
}

TEST_CASE("a JOIN to an archived room creates a fresh room", "[room][join]") {
  RoomFixture room;
  room.join("node-a/1", "u1", {.pin = "1"});
  room.send("node-a/1", R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/1"})");
  room.send("node-a/1", R"({"type":"LEAVE"})");
  REQUIRE(room.state.archived);
  const Effects fx = room.join("node-a/2", "u2");
  CHECK(fx.join == JoinOutcome::joined);
  CHECK_FALSE(room.state.archived);
  CHECK(room.state.host_user_id == "u2");
  CHECK(room.state.url.empty());
  CHECK_FALSE(room.state.pin);
  CHECK(room.state.seq == 1);
  CHECK(audit_types(fx) == ss({"ROOM_CREATED", "USER_JOINED"}));
}

TEST_CASE("JOIN into an empty kept room finds host, url and position again", "[room][join]") {
  RoomFixture room;
  populate(room, 2);
  room.send("node-a/1", R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/5","currentTime":100})");
  room.disconnect("node-a/2");
  room.disconnect("node-a/1");
  REQUIRE(room.state.members.empty());
  REQUIRE_FALSE(room.state.archived);
  room.now += 5000;
  const Effects fx = room.join("node-a/8", "u1");
  const json::object& state = only(fx, "ROOM_STATE").frame;
  CHECK(state.at("hostUserId") == "u1");
  CHECK(state.at("url") == "https://www.netflix.com/watch/5");
  CHECK(state.at("currentTime") == 100);
  CHECK_FALSE(room.state.empty_since);
  CHECK_FALSE(room.state.empty_deadline);
}

TEST_CASE("the caller's PIN proof is used where it has the room's salt and pepper, and ignored elsewhere",
          "[room][join][pin]") {
  constexpr const char* kSalt = "00112233445566778899aabbccddeeff";  // the fixture's pin_salt
  RoomFixture room;
  // Creation stores the proof as the room's hash when it was made with the JOIN's salt.
  const PinHash proof = hash_pin("2468", kSalt);
  REQUIRE(room.join("node-a/1", "u1", {.pin = "2468", .pin_proof = proof}).join == JoinOutcome::joined);
  REQUIRE(room.state.pin);
  CHECK(*room.state.pin == proof);

  // A proof with the room's salt decides on its own: the room does not hash again (a proof of
  // another PIN turns away the right PIN, which shows whose answer counted).
  CHECK(room.join("node-a/2", "u2", {.pin = "2468", .pin_proof = hash_pin("1111", kSalt)}).join ==
        JoinOutcome::pin_rejected);
  CHECK(room.join("node-a/3", "u3", {.pin = "1111", .pin_proof = hash_pin("2468", kSalt)}).join ==
        JoinOutcome::joined);
  // A proof with another salt, or another pepper, is ignored: the room hashes the PIN itself.
  CHECK(room.join("node-a/4", "u4", {.pin = "2468", .pin_proof = hash_pin("1111", "abcd")}).join ==
        JoinOutcome::joined);
  CHECK(room.join("node-a/5", "u5", {.pin = "1111", .pin_proof = hash_pin("2468", kSalt, "pepper")}).join ==
        JoinOutcome::pin_rejected);
}

TEST_CASE("a room's PIN salt is derived from its id: 32 hex digits, stable, different per room", "[room][pin]") {
  const std::string a = pin_salt_for("room-a");
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(pin_salt_for("room-a") == a);
  CHECK(pin_salt_for("room-b") != a);
}

TEST_CASE("a room takes limits.pin_attempts_per_room_minute wrong PINs a minute, beyond, only its members' addresses are checked",
          "[room][join][pin]") {
  RoomFixture room;
  room.settings.pin_attempts_per_room_minute = 2;
  REQUIRE(room.join("node-a/1", "host", {.pin = "2468", .addr = "10.0.0.1"}).join == JoinOutcome::joined);
  CHECK(has_error(room.join("node-a/2", "g1", {.pin = "1111", .addr = "10.0.0.2"}), "node-a/2", "bad_pin"));
  room.now += 1'000;
  CHECK(has_error(room.join("node-a/3", "g2", {.pin_invalid = true, .addr = "10.0.0.3"}), "node-a/3", "invalid_pin"));
  CHECK(room.state.pin_failures == std::vector<Millis>{kStart, kStart + 1'000});

  // At the bound: the right PIN from a new address is refused unchecked, and not counted.
  const Effects refused = room.join("node-a/4", "n1", {.pin = "2468", .addr = "10.0.0.9"});
  CHECK(refused.join == JoinOutcome::pin_rejected);
  CHECK(has_error(refused, "node-a/4", "too_many_attempts"));
  CHECK(audit_types(refused) == ss({"PIN_REJECTED"}));
  CHECK(room.state.pin_failures.size() == 2);
  // A member's address group (the same /64 for IPv6) is still checked: right joins, wrong counts.
  CHECK(room.join("node-a/5", "h2", {.pin = "2468", .addr = "10.0.0.1"}).join == JoinOutcome::joined);
  CHECK(has_error(room.join("node-a/6", "h3", {.pin = "0000", .addr = "10.0.0.1"}), "node-a/6", "bad_pin"));
  CHECK(room.state.pin_failures == std::vector<Millis>{kStart + 1'000, kStart + 1'000});

  // A minute after the failures, newcomers are checked again; the window survives persistence.
  CHECK(from_json(to_json(room.state)) == room.state);
  room.now += 60'000;
  CHECK(room.join("node-a/7", "n1", {.pin = "2468", .addr = "10.0.0.9"}).join == JoinOutcome::joined);
  CHECK(room.state.pin_failures.empty());
}
