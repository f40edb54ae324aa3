#include "room_fixture.hpp"

using namespace tandem::room;
using namespace tandem::room::testing;

TEST_CASE("LEAVE sends USER_LEFT to the room including the leaver, then closes 1000", "[room][leave]") {
  RoomFixture room;
  populate(room, 3);
  const Effects fx = room.send("node-a/2", R"({"type":"LEAVE","userId":"u2","roomId":"room-1"})");
  CHECK(types(fx) == ss({"USER_LEFT"}));
  const OutFrame& left = only(fx, "USER_LEFT");
  CHECK(sorted(left.recipients) == ss({"node-a/1", "node-a/2", "node-b/3"}));
  CHECK(keys(left.frame) == ss({"type", "userId", "peerId", "timestamp", "seq"}));
  CHECK(left.frame.at("userId") == "u2");
  CHECK(left.frame.at("peerId") == "peer-2");
  CHECK(left.frame.at("timestamp") == room.now);
  REQUIRE(fx.closes.size() == 1);
  CHECK(fx.closes[0].conn == "node-a/2");
  CHECK(fx.closes[0].code == 1000);
  CHECK(fx.closes[0].reason == "Client left");
  CHECK(fx.unbound_conn == "node-a/2");
  CHECK(room.member_ids() == ss({"u1", "u3"}));
  CHECK(room.state.host_user_id == "u1");
  CHECK(only_audit(fx, "USER_LEFT").detail.at("reason") == "leave");
}

TEST_CASE("fix: host LEAVE makes the earliest-joined member host, HOST_CHANGED before USER_LEFT", "[room][leave][host]") {
  RoomFixture room;
  populate(room, 4);
  const Effects fx = room.send("node-a/1", R"({"type":"LEAVE"})");
  CHECK(types(fx) == ss({"HOST_CHANGED", "USER_LEFT"}));
  const OutFrame& changed = only(fx, "HOST_CHANGED");
  CHECK(json::serialize(changed.frame) ==
        R"({"type":"HOST_CHANGED","hostUserId":"u2","timestamp":)" + std::to_string(room.now) + R"(,"seq":5})");
  CHECK(sorted(changed.recipients) == ss({"node-a/1", "node-a/2", "node-a/4", "node-b/3"}));
  CHECK(sorted(only(fx, "USER_LEFT").recipients) == ss({"node-a/1", "node-a/2", "node-a/4", "node-b/3"}));
  CHECK(only(fx, "USER_LEFT").frame.at("seq") == 6);
  CHECK(received_types(fx, "node-a/1") == ss({"HOST_CHANGED", "USER_LEFT"}));
  CHECK(room.state.host_user_id == "u2");
  CHECK_FALSE(room.state.host_grace_deadline);
  CHECK(audit_types(fx) == ss({"HOST_CHANGED", "USER_LEFT"}));
  CHECK(only_audit(fx, "HOST_CHANGED").detail.at("reason") == "leave");
  CHECK(only_audit(fx, "HOST_CHANGED").detail.at("from") == "u1");
}

TEST_CASE("the last LEAVE archives the room at once", "[room][leave]") {
  RoomFixture room;
  room.join("node-a/1", "u1");
  const Effects fx = room.send("node-a/1", R"({"type":"LEAVE"})");
  CHECK(fx.archived);
  CHECK(room.state.archived);
  CHECK(received_types(fx, "node-a/1") == ss({"USER_LEFT"}));
  CHECK(audit_types(fx) == ss({"USER_LEFT", "ROOM_ARCHIVED"}));
  CHECK(only_audit(fx, "ROOM_ARCHIVED").seq == room.state.seq);
  CHECK(only_audit(fx, "ROOM_ARCHIVED").user_id.empty());
  CHECK(only_audit(fx, "ROOM_ARCHIVED").detail.at("reason") == "empty");
  CHECK_FALSE(next_deadline(room.state));
}

TEST_CASE("fix: a disconnect sends USER_LEFT to the others at once", "[room][disconnect]") {
  RoomFixture room;
  populate(room, 3);
  const Effects fx = room.disconnect("node-a/2");
  CHECK(types(fx) == ss({"USER_LEFT"}));
  CHECK(sorted(only(fx, "USER_LEFT").recipients) == ss({"node-a/1", "node-b/3"}));
  CHECK(fx.closes.empty());
  CHECK(fx.unbound_conn == "node-a/2");
  CHECK(room.member_ids() == ss({"u1", "u3"}));
  CHECK(only_audit(fx, "USER_LEFT").detail.at("reason") == "disconnect");
}

TEST_CASE("a disconnect of an unknown connection changes nothing", "[room][disconnect]") {
  RoomFixture room;
  populate(room, 2);
  const RoomState before = room.state;
  const Effects fx = room.disconnect("node-z/99");
  CHECK(fx.frames.empty());
  CHECK_FALSE(fx.changed);
  CHECK(room.state == before);
}

TEST_CASE("fix: a host disconnect keeps the role for the grace, then the earliest-joined member becomes host",
          "[room][disconnect][host]") {
  RoomFixture room;
  populate(room, 3);
  const Millis left_at = room.now;
  Effects fx = room.disconnect("node-a/1");
  CHECK(types(fx) == ss({"USER_LEFT"}));
  CHECK(room.state.host_user_id == "u1");
  CHECK(room.state.host_grace_deadline == left_at + room.settings.host_grace);
  CHECK(next_deadline(room.state) == left_at + room.settings.host_grace);

  room.now = left_at + room.settings.host_grace - 1;
  fx = room.tick();
  CHECK(fx.frames.empty());
  CHECK_FALSE(fx.changed);

  room.now = left_at + room.settings.host_grace;
  fx = room.tick();
  CHECK(types(fx) == ss({"HOST_CHANGED"}));
  CHECK(only(fx, "HOST_CHANGED").frame.at("hostUserId") == "u2");
  CHECK(sorted(only(fx, "HOST_CHANGED").recipients) == ss({"node-a/2", "node-b/3"}));
  CHECK(room.state.host_user_id == "u2");
  CHECK_FALSE(room.state.host_grace_deadline);
  CHECK(only_audit(fx, "HOST_CHANGED").detail.at("reason") == "grace_expired");

  CHECK(room.tick().frames.empty());  // resolved once
}

TEST_CASE("when the grace expires a member who joined during it can become host", "[room][disconnect][host]") {
  RoomFixture room;
  room.join("node-a/1", "u1");
  room.disconnect("node-a/1");
  room.now += 1000;
  room.join("node-a/2", "u2");
  CHECK(room.state.host_user_id == "u1");
  room.now += room.settings.host_grace;
  const Effects fx = room.tick();
  CHECK(only(fx, "HOST_CHANGED").recipients == ss({"node-a/2"}));  // that member included
  CHECK(room.state.host_user_id == "u2");
}

TEST_CASE("an expired grace is resolved before the next input even without a tick", "[room][disconnect][host]") {
  RoomFixture room;
  populate(room, 3);
  room.disconnect("node-a/1");
  room.now += room.settings.host_grace + 5;
  const Effects fx = room.send("node-a/2", R"({"type":"PLAY_PAUSE","control":"play"})");
  CHECK(types(fx) == ss({"HOST_CHANGED", "PLAY_PAUSE"}));
  CHECK(room.state.host_user_id == "u2");
}

TEST_CASE("fix: a room whose members all disconnected is kept for empty_ttl, then archived", "[room][disconnect]") {
  RoomFixture room;
  populate(room, 2);
  room.send("node-a/1", R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/5","currentTime":10})");
  room.disconnect("node-a/2");
  const Millis emptied = room.now;
  Effects fx = room.disconnect("node-a/1");
  CHECK_FALSE(fx.archived);
  CHECK_FALSE(room.state.archived);
  CHECK(room.state.empty_since == emptied);
  CHECK(room.state.empty_deadline == emptied + room.settings.empty_ttl);
  CHECK(room.state.url == "https://www.netflix.com/watch/5");
  CHECK(room.state.host_user_id == "u1");

  room.now = emptied + room.settings.empty_ttl - 1;
  fx = room.tick();
  CHECK_FALSE(fx.archived);
  CHECK(next_deadline(room.state) == emptied + room.settings.empty_ttl);

  room.now = emptied + room.settings.empty_ttl;
  fx = room.tick();
  CHECK(fx.archived);
  CHECK(room.state.archived);
  CHECK(only_audit(fx, "ROOM_ARCHIVED").detail.at("reason") == "expired");
  CHECK(only_audit(fx, "ROOM_ARCHIVED").seq == room.state.seq);
  CHECK_FALSE(next_deadline(room.state));
}

TEST_CASE("fix: a socket switching rooms receives nothing of the old room", "[room][switch]") {
  RoomFixture room;
  populate(room, 3);
  const Effects fx = room.disconnect("node-a/2", true);
  CHECK(received(fx, "node-a/2").empty());
  CHECK(sorted(only(fx, "USER_LEFT").recipients) == ss({"node-a/1", "node-b/3"}));
  CHECK(fx.closes.empty());
  CHECK(fx.unbound_conn == "node-a/2");
  CHECK(only_audit(fx, "USER_LEFT").detail.at("reason") == "switch");
}

TEST_CASE("fix: a host switching rooms hands the role on at once", "[room][switch][host]") {
  RoomFixture room;
  populate(room, 3);
  const Effects fx = room.disconnect("node-a/1", true);
  CHECK(types(fx) == ss({"HOST_CHANGED", "USER_LEFT"}));
  CHECK(received(fx, "node-a/1").empty());
  CHECK(room.state.host_user_id == "u2");
  CHECK_FALSE(room.state.host_grace_deadline);
}

TEST_CASE("a switch that empties the room archives it as a LEAVE would", "[room][switch]") {
  RoomFixture room;
  room.join("node-a/1", "u1");
  const Effects fx = room.disconnect("node-a/1", true);
  CHECK(fx.archived);
  CHECK(fx.frames.size() == 1);
  CHECK(fx.frames[0].recipients.empty());
  CHECK(audit_types(fx) == ss({"USER_LEFT", "ROOM_ARCHIVED"}));
}

TEST_CASE("a lost node's members leave as disconnects, survivors are told", "[room][node]") {
  RoomFixture room;
  populate(room, 6);  // node-b: u3, u6; host u1 on node-a
  Effects fx = room.node_lost("node-b");
  CHECK(types(fx) == ss({"USER_LEFT", "USER_LEFT"}));
  CHECK(fx.frames[0].frame.at("userId") == "u3");
  CHECK(fx.frames[1].frame.at("userId") == "u6");
  for (const OutFrame& frame : fx.frames) {
    CHECK(sorted(frame.recipients) == ss({"node-a/1", "node-a/2", "node-a/4", "node-a/5"}));
  }
  CHECK(room.member_ids() == ss({"u1", "u2", "u4", "u5"}));
  CHECK(room.state.host_user_id == "u1");
  CHECK(nth_audit(fx, "USER_LEFT", 0).detail.at("reason") == "node_lost");

  fx = room.node_lost("node-a");  // the host's node: grace, room kept
  CHECK(room.state.members.empty());
  CHECK(room.state.host_user_id == "u1");
  CHECK(room.state.host_grace_deadline);
  CHECK(room.state.empty_since == room.now);
  CHECK_FALSE(fx.archived);
  for (const OutFrame& frame : fx.frames) {
    for (const ConnId& recipient : frame.recipients) CHECK(recipient.rfind("node-a/", 0) != 0);
  }
}

TEST_CASE("a lost node that holds the host starts the host grace", "[room][node][host]") {
  RoomFixture room;
  room.join("node-b/1", "u1", {.node = "node-b"});
  room.join("node-a/2", "u2");
  room.node_lost("node-b");
  CHECK(room.state.host_user_id == "u1");
  room.now += room.settings.host_grace;
  CHECK(only(room.tick(), "HOST_CHANGED").frame.at("hostUserId") == "u2");
}

TEST_CASE("next_deadline reports the earliest pending deadline", "[room][timers]") {
  RoomFixture room;
  CHECK_FALSE(next_deadline(room.state));
  populate(room, 3);
  CHECK_FALSE(next_deadline(room.state));
  room.send("node-a/1", R"({"type":"SEEK","currentTime":5,"isPlaying":true})");
  const Millis gate_deadline = room.now + room.settings.ready_timeout;
  CHECK(next_deadline(room.state) == gate_deadline);
  room.now += 1000;
  room.disconnect("node-a/1");  // grace ends after the gate
  CHECK(next_deadline(room.state) == gate_deadline);
  room.now = gate_deadline;
  room.tick();
  CHECK(next_deadline(room.state) == gate_deadline - room.settings.ready_timeout + 1000 + room.settings.host_grace);
}
