#include "room_fixture.hpp"

using namespace tandem::room;
using namespace tandem::room::testing;

TEST_CASE("PING is answered with PONG to the sender and refreshes presence", "[room][ping]") {
  RoomFixture room;
  populate(room, 2);
  room.now += 5000;
  const std::uint64_t seq = room.state.seq;
  const Effects fx = room.send("node-a/2", R"({"type":"PING","timestamp":123})");
  REQUIRE(fx.frames.size() == 1);
  CHECK(fx.frames[0].recipients == ss({"node-a/2"}));
  CHECK_FALSE(fx.frames[0].sequenced);
  CHECK(json::serialize(fx.frames[0].frame) == R"({"type":"PONG","timestamp":)" + std::to_string(room.now) + "}");
  CHECK(room.member("u2")->last_seen == room.now);
  CHECK(room.state.seq == seq);
  CHECK(fx.audit.empty());
  CHECK(fx.changed);
}

TEST_CASE("PING before JOIN is answered too", "[room][ping]") {
  RoomFixture room;
  populate(room, 1);
  const RoomState before = room.state;
  const Effects fx = room.send("node-a/9", R"({"type":"PING"})");
  CHECK(types(fx) == ss({"PONG"}));
  CHECK(room.state == before);
  CHECK_FALSE(fx.changed);
}

TEST_CASE("every frame of a member refreshes its last_seen", "[room][presence]") {
  RoomFixture room;
  populate(room, 2);
  const char* frames[] = {
      R"({"type":"POSITION_UPDATE","currentTime":3,"isPlaying":true})",
      R"({"type":"READY"})",
      R"({"type":"REQUEST_SYNC"})",
      R"({"type":"SEEK","currentTime":"bad"})",
      R"({"type":"OFFER","to":"nobody","offer":{}})",
  };
  for (const char* text : frames) {
    room.now += 100;
    const Effects fx = room.send("node-a/2", text);
    CHECK(room.member("u2")->last_seen == room.now);
    CHECK(fx.changed);
  }
}

TEST_CASE("frames from an unbound connection get not_joined", "[room][order]") {
  RoomFixture room;
  populate(room, 1);
  const RoomState before = room.state;
  const char* frames[] = {
      R"({"type":"LEAVE"})", R"({"type":"PLAY_PAUSE","control":"play"})", R"({"type":"REQUEST_SYNC"})",
      R"({"type":"OFFER","to":"u1"})", R"({"type":"REACTION"})", R"({"type":"SEEK","currentTime":"x"})",
  };
  for (const char* text : frames) {
    INFO(text);
    const Effects fx = room.send("node-a/9", text);
    REQUIRE(fx.frames.size() == 1);
    CHECK(fx.frames[0].frame == error("not_joined", "Join a room first"));
    CHECK(fx.frames[0].recipients == ss({"node-a/9"}));
  }
  CHECK(room.state == before);
}

TEST_CASE("UPDATE_USERNAME stores the cleaned name and tells the room including the sender", "[room][username]") {
  RoomFixture room;
  populate(room, 3);
  Effects fx = room.send("node-b/3", R"({"type":"UPDATE_USERNAME","username":"  Cleo\n"})", "node-b");
  const OutFrame& updated = only(fx, "USERNAME_UPDATED");
  CHECK(sorted(updated.recipients) == ss({"node-a/1", "node-a/2", "node-b/3"}));
  CHECK(updated.sequenced);
  CHECK(json::serialize(updated.frame) == R"({"type":"USERNAME_UPDATED","userId":"u3","username":"Cleo","timestamp":)" +
                                              std::to_string(room.now) + R"(,"seq":4})");
  CHECK(room.member("u3")->username == "Cleo");
  CHECK(only_audit(fx, "USERNAME_UPDATED").detail.at("username") == "Cleo");
  CHECK(only_audit(fx, "USERNAME_UPDATED").seq == 4);

  fx = room.send("node-b/3", R"({"type":"UPDATE_USERNAME","username":null})", "node-b");
  CHECK(only(fx, "USERNAME_UPDATED").frame.at("username").is_null());
  CHECK_FALSE(room.member("u3")->username);

  const std::uint64_t seq = room.state.seq;
  fx = room.send("node-b/3", R"({"type":"UPDATE_USERNAME","username":42})", "node-b");
  CHECK(types(fx) == ss({"ERROR"}));
  CHECK(has_error(fx, "node-b/3", "invalid_username"));
  CHECK(room.state.seq == seq);
}

TEST_CASE("TOGGLE_GUEST_CONTROL is host only and tells the room", "[room][guest]") {
  RoomFixture room;
  populate(room, 2);
  Effects fx = room.send("node-a/2", R"({"type":"TOGGLE_GUEST_CONTROL","enabled":true})");
  CHECK(types(fx) == ss({"ERROR"}));
  CHECK(has_error(fx, "node-a/2", "not_allowed"));
  CHECK_FALSE(room.state.guest_control);

  fx = room.send("node-a/1", R"({"type":"TOGGLE_GUEST_CONTROL","enabled":true})");
  const OutFrame& frame = only(fx, "GUEST_CONTROL");
  CHECK(sorted(frame.recipients) == ss({"node-a/1", "node-a/2"}));
  CHECK(frame.frame.at("enabled") == true);
  CHECK(frame.frame.at("seq") == 3);
  CHECK(frame.frame.at("timestamp") == room.now);
  CHECK(room.state.guest_control);
  CHECK(only_audit(fx, "GUEST_CONTROL").detail.at("enabled") == true);

  fx = room.send("node-a/1", R"({"type":"TOGGLE_GUEST_CONTROL","enabled":"no"})");
  CHECK(has_error(fx, "node-a/1", "bad_field"));
  CHECK(room.state.guest_control);
}

TEST_CASE("order of checks: not_allowed comes before bad_field", "[room][order]") {
  RoomFixture room;
  populate(room, 2);
  const char* frames[] = {
      R"({"type":"TOGGLE_GUEST_CONTROL","enabled":"x"})", R"({"type":"TRANSFER_HOST","targetUserId":5})",
      R"({"type":"PLAY_PAUSE","control":"stop"})",       R"({"type":"SEEK","currentTime":"x"})",
      R"({"type":"HOST_HEARTBEAT","currentTime":-1})",   R"({"type":"URL_CHANGE","url":5})",
  };
  for (const char* text : frames) {
    INFO(text);
    CHECK(has_error(room.send("node-a/2", text), "node-a/2", "not_allowed"));
    CHECK(has_error(room.send("node-a/1", text), "node-a/1", "bad_field"));
  }
}

TEST_CASE("TRANSFER_HOST: host only, target must be a member, HOST_CHANGED to the room", "[room][host]") {
  RoomFixture room;
  populate(room, 3);
  Effects fx = room.send("node-a/2", R"({"type":"TRANSFER_HOST","targetUserId":"u2"})");
  CHECK(has_error(fx, "node-a/2", "not_allowed"));
  fx = room.send("node-a/1", R"({"type":"TRANSFER_HOST","targetUserId":"ghost"})");
  CHECK(received(fx, "node-a/1") == std::vector<json::object>{error("bad_target", "Target user is not in the room")});
  fx = room.send("node-a/1", R"({"type":"TRANSFER_HOST"})");
  CHECK(has_error(fx, "node-a/1", "bad_field"));
  CHECK(room.state.host_user_id == "u1");
  CHECK(room.state.seq == 3);

  fx = room.send("node-a/1", R"({"type":"TRANSFER_HOST","targetUserId":"u3"})");
  const OutFrame& changed = only(fx, "HOST_CHANGED");
  CHECK(sorted(changed.recipients) == ss({"node-a/1", "node-a/2", "node-b/3"}));
  CHECK(json::serialize(changed.frame) ==
        R"({"type":"HOST_CHANGED","hostUserId":"u3","timestamp":)" + std::to_string(room.now) + R"(,"seq":4})");
  CHECK(room.state.host_user_id == "u3");
  CHECK(only_audit(fx, "HOST_CHANGED").detail.at("reason") == "transfer");

  fx = room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play"})");
  CHECK(has_error(fx, "node-a/1", "not_allowed"));
}

TEST_CASE("fix: only a controller may play, pause, seek, heartbeat or change the URL", "[room][control]") {
  RoomFixture room;
  populate(room, 2);
  const RoomState before = room.state;
  const char* frames[] = {
      R"({"type":"PLAY_PAUSE","control":"play","currentTime":5})",
      R"({"type":"SEEK","currentTime":50,"isPlaying":true})",
      R"({"type":"HOST_HEARTBEAT","currentTime":3,"isPlaying":true})",
      R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/2"})",
  };
  for (const char* text : frames) {
    INFO(text);
    const Effects fx = room.send("node-a/2", text);
    REQUIRE(fx.frames.size() == 1);
    CHECK(fx.frames[0].frame == error("not_allowed", "Only the host or a guest with control can do this"));
    CHECK(fx.frames[0].recipients == ss({"node-a/2"}));
    CHECK(fx.audit.empty());
  }
  CHECK(room.state.seq == before.seq);
  CHECK_FALSE(room.state.is_playing);
  CHECK(room.state.url.empty());
  CHECK_FALSE(room.state.gate);

  room.send("node-a/1", R"({"type":"TOGGLE_GUEST_CONTROL","enabled":true})");
  for (const char* text : frames) {
    INFO(text);
    const Effects fx = room.send("node-a/2", text);
    CHECK_FALSE(has_error(fx, "node-a/2", "not_allowed"));
    CHECK(fx.frames.size() >= 1);
  }
  CHECK(room.state.url == "https://www.netflix.com/watch/2");
}
