#include "room_fixture.hpp"

using namespace tandem::room;
using namespace tandem::room::testing;

TEST_CASE("a new room starts at seq 0, the creator's USER_JOINED reaches nobody but takes seq 1", "[room][seq]") {
  RoomFixture room;
  const Effects fx = room.join("node-a/1", "u1");
  CHECK(room.state.seq == 1);
  const OutFrame& joined = only(fx, "USER_JOINED");
  CHECK(joined.recipients.empty());
  CHECK(joined.frame.at("seq") == 1);
  CHECK(only(fx, "ROOM_STATE").frame.at("seq") == 1);
  CHECK(only_audit(fx, "ROOM_CREATED").seq == 0);
  CHECK(only_audit(fx, "USER_JOINED").seq == 1);
  CHECK(audit_types(fx) == ss({"ROOM_CREATED", "USER_JOINED"}));
}

TEST_CASE("ROOM_STATE carries the seq of the joiner's USER_JOINED, the next broadcast is seq + 1", "[room][seq]") {
  RoomFixture room;
  populate(room, 2);
  room.send("node-a/1", R"({"type":"REACTION"})");
  const Effects fx = room.join("node-a/3", "u3");
  CHECK(only(fx, "USER_JOINED").frame.at("seq") == 4);
  CHECK(only(fx, "ROOM_STATE").frame.at("seq") == 4);
  const Effects next = room.send("node-a/1", R"({"type":"REACTION"})");
  CHECK(only(next, "REACTION").frame.at("seq") == 5);
}

TEST_CASE("every room broadcast takes the next seq, frames to one recipient carry none", "[room][seq]") {
  RoomFixture room;
  populate(room, 3);
  const char* frames[] = {
      R"({"type":"PING"})",
      R"({"type":"REQUEST_SYNC"})",
      R"({"type":"OFFER","to":"u2"})",
      R"({"type":"TOGGLE_GUEST_CONTROL","enabled":true})",
      R"({"type":"UPDATE_USERNAME","username":"x"})",
      R"({"type":"PLAY_PAUSE","control":"play","currentTime":1})",
      R"({"type":"HOST_HEARTBEAT","currentTime":2,"isPlaying":true})",
      R"({"type":"POSITION_UPDATE","currentTime":3,"isPlaying":true})",
      R"({"type":"SEEK","currentTime":4,"isPlaying":true})",
      R"({"type":"READY"})",
      R"({"type":"URL_CHANGE","url":"https://www.netflix.com/x"})",
      R"({"type":"SEEK","currentTime":"bad"})",
      R"({"type":"TRANSFER_HOST","targetUserId":"u2"})",
      R"({"type":"CUSTOM"})",
  };
  std::uint64_t expected = room.state.seq;
  for (const char* text : frames) {
    INFO(text);
    room.now += 10;
    const Effects fx = room.send("node-a/1", text);
    for (const OutFrame& out : fx.frames) {
      if (out.sequenced) {
        CHECK(out.frame.at("seq").as_uint64() == ++expected);
      } else {
        CHECK(out.recipients.size() == 1);
        CHECK_FALSE(out.frame.contains("seq"));
      }
    }
    CHECK(room.state.seq == expected);
  }
  CHECK(expected > 3);
}

TEST_CASE("audit events carry the seq of their broadcast, others the room's current seq", "[room][audit]") {
  RoomFixture room;
  room.join("node-a/1", "u1", {.pin = "7"});
  room.join("node-a/2", "u2", {.pin = "7"});
  room.now += 50;
  Effects fx = room.join("node-a/3", "u3", {.pin = "8"});
  const AuditRecord& rejected = only_audit(fx, "PIN_REJECTED");
  CHECK(rejected.seq == 2);
  CHECK(rejected.room_id == "room-1");
  CHECK(rejected.at == room.now);

  fx = room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play"})");
  CHECK(only_audit(fx, "PLAY_PAUSE").seq == only(fx, "PLAY_PAUSE").frame.at("seq").as_uint64());
  for (const AuditRecord& record : fx.audit) CHECK(record.room_id == "room-1");

  room.send("node-a/2", R"({"type":"LEAVE"})");
  fx = room.send("node-a/1", R"({"type":"LEAVE"})");
  CHECK(only_audit(fx, "ROOM_ARCHIVED").seq == only(fx, "USER_LEFT").frame.at("seq").as_uint64());
}

TEST_CASE("PING, POSITION_UPDATE, HOST_HEARTBEAT, READY-without-release and relays are not audited", "[room][audit]") {
  RoomFixture room;
  populate(room, 2);
  const char* frames[] = {
      R"({"type":"PING"})",
      R"({"type":"POSITION_UPDATE","currentTime":3,"isPlaying":true})",
      R"({"type":"HOST_HEARTBEAT","currentTime":2,"isPlaying":true})",
      R"({"type":"READY"})",
      R"({"type":"REQUEST_SYNC"})",
      R"({"type":"OFFER","to":"u2"})",
      R"({"type":"REACTION"})",
  };
  for (const char* text : frames) {
    INFO(text);
    CHECK(room.send("node-a/1", text).audit.empty());
  }
}

TEST_CASE("every state change of §8 is audited with its type", "[room][audit]") {
  RoomFixture room;
  std::vector<std::string> seen;
  auto record = [&](const Effects& fx) {
    for (const AuditRecord& r : fx.audit) {
      CHECK(r.room_id == "room-1");
      CHECK(r.at == room.now);
      CHECK(r.seq <= room.state.seq);
      seen.push_back(r.type);
    }
  };
  record(room.join("node-a/1", "u1", {.pin = "1"}));
  record(room.join("node-a/2", "u2", {.pin = "1"}));
  record(room.join("node-a/3", "u3", {.pin = "2"}));
  record(room.send("node-a/1", R"({"type":"TOGGLE_GUEST_CONTROL","enabled":false})"));
  record(room.send("node-a/2", R"({"type":"UPDATE_USERNAME","username":"B"})"));
  record(room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play"})"));
  record(room.send("node-a/1", R"({"type":"SEEK","currentTime":3,"isPlaying":true})"));
  record(room.send("node-a/2", R"({"type":"READY"})"));
  record(room.send("node-a/1", R"({"type":"URL_CHANGE","url":"https://www.netflix.com/a"})"));
  record(room.send("node-a/1", R"({"type":"TRANSFER_HOST","targetUserId":"u2"})"));
  record(room.send("node-a/1", R"({"type":"LEAVE"})"));
  record(room.send("node-a/2", R"({"type":"LEAVE"})"));
  CHECK(sorted(seen) == sorted(ss({"ROOM_CREATED", "USER_JOINED", "USER_JOINED", "PIN_REJECTED", "GUEST_CONTROL",
                                   "USERNAME_UPDATED", "PLAY_PAUSE", "SEEK", "GATE_RELEASED", "URL_CHANGE",
                                   "HOST_CHANGED", "USER_LEFT", "USER_LEFT", "ROOM_ARCHIVED"})));
}

TEST_CASE("fix: a connection's frames take effect strictly in the order they are applied", "[room][seq]") {
  RoomFixture room;
  populate(room, 2);
  const Effects play = room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play","currentTime":10})");
  const Effects seek = room.send("node-a/1", R"({"type":"SEEK","currentTime":20,"isPlaying":false})");
  const Effects pause = room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"pause","currentTime":21})");
  const std::uint64_t s1 = only(play, "PLAY_PAUSE").frame.at("seq").as_uint64();
  const std::uint64_t s2 = only(seek, "SEEK_PAUSE").frame.at("seq").as_uint64();
  const std::uint64_t s3 = only(pause, "PLAY_PAUSE").frame.at("seq").as_uint64();
  CHECK(s1 + 1 == s2);
  CHECK(s2 + 1 == s3);
  CHECK_FALSE(room.state.is_playing);
  CHECK(room.state.current_time == 21);
  CHECK_FALSE(room.state.gate);
}
