#include "room_fixture.hpp"

using namespace tandem::room;
using namespace tandem::room::testing;

namespace {

Effects seek(RoomFixture& room, const std::string& conn, double target, bool play) {
  return room.send(conn, R"({"type":"SEEK","currentTime":)" + std::to_string(target) +
                             R"(,"isPlaying":)" + (play ? "true" : "false") + "}");
}

Effects ready(RoomFixture& room, int member) { return room.send(conn_of(member), R"({"type":"READY","targetTime":1})"); }

}  // namespace

TEST_CASE("a SEEK opens a gate expecting every member, the seeker already ready", "[room][gate]") {
  RoomFixture room;
  populate(room, 5);
  room.now += 100;
  seek(room, "node-a/2", 30, true);  // guest control off: not allowed
  CHECK_FALSE(room.state.gate);
  seek(room, "node-a/1", 30, true);
  REQUIRE(room.state.gate);
  const Gate& gate = *room.state.gate;
  CHECK(gate.id == 1);
  CHECK(gate.target == 30);
  CHECK(gate.desired_play);
  CHECK(gate.opened_at == room.now);
  CHECK(gate.deadline == room.now + room.settings.ready_timeout);
  CHECK(gate.seeker == "u1");
  CHECK(gate.expected == ss({"u1", "u2", "u3", "u4", "u5"}));
  CHECK(gate.ready == ss({"u1"}));
  CHECK(room.state.next_gate_id == 2);
}

TEST_CASE("ready gate releases on quorum", "[room][gate]") {
  RoomFixture room;
  populate(room, 5);  // quorum 3 of 5
  seek(room, "node-a/1", 30, true);
  room.now += 700;
  Effects fx = ready(room, 2);
  CHECK(fx.frames.empty());
  CHECK(room.state.gate);
  room.now += 300;
  fx = ready(room, 3);
  CHECK_FALSE(room.state.gate);
  const OutFrame& play = only(fx, "PLAY_PAUSE");
  CHECK(sorted(play.recipients) == ss({"node-a/1", "node-a/2", "node-a/4", "node-a/5", "node-b/3"}));
  CHECK(play.sequenced);
  CHECK(json::serialize(play.frame) == R"({"type":"PLAY_PAUSE","userId":"server","control":"play","timestamp":)" +
                                           std::to_string(room.now) + R"(,"currentTime":30,"eventTimestamp":)" +
                                           std::to_string(room.now) + R"(,"seq":7})");
  CHECK(room.state.is_playing);
  CHECK(room.state.current_time == 30);
  CHECK(room.state.position_at == room.now);
  const AuditRecord& audit = only_audit(fx, "GATE_RELEASED");
  CHECK(json::serialize(audit.detail) == R"({"played":true,"reason":"quorum"})");
  CHECK(audit.seq == 7);
  CHECK(audit.user_id == "u1");
}

TEST_CASE("fix: the seeker counts as ready, so a room of two releases on the other's READY", "[room][gate]") {
  RoomFixture room;
  populate(room, 2);
  seek(room, "node-a/1", 5, true);
  CHECK(room.state.gate);
  const Effects fx = ready(room, 2);
  CHECK(count_type(fx, "PLAY_PAUSE") == 1);
  CHECK_FALSE(room.state.gate);
}

TEST_CASE("in a room of one a SEEK releases at once", "[room][gate]") {
  RoomFixture room;
  populate(room, 1);
  const Effects fx = seek(room, "node-a/1", 9, true);
  CHECK(types(fx) == ss({"SEEK_PAUSE", "PLAY_PAUSE"}));
  CHECK(fx.frames[1].frame.at("seq").as_uint64() == fx.frames[0].frame.at("seq").as_uint64() + 1);
  CHECK(audit_types(fx) == ss({"SEEK", "GATE_RELEASED"}));
  CHECK(room.state.is_playing);
}

TEST_CASE("the quorum is max(1, ceil(0.6 x expected))", "[room][gate]") {
  const std::size_t quorum_of[] = {0, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6};
  for (int n = 1; n <= 10; ++n) {
    INFO("members " << n);
    RoomFixture room;
    populate(room, n);
    seek(room, "node-a/1", 1, true);
    std::size_t ready_count = 1;
    for (int m = 2; m <= n && room.state.gate; ++m) {
      ready(room, m);
      ++ready_count;
    }
    CHECK_FALSE(room.state.gate);
    CHECK(ready_count == quorum_of[n]);
  }
}

TEST_CASE("a gate with desiredPlay false closes silently", "[room][gate]") {
  RoomFixture room;
  populate(room, 2);
  seek(room, "node-a/1", 30, false);
  const std::uint64_t seq = room.state.seq;
  const Effects fx = ready(room, 2);
  CHECK(fx.frames.empty());
  CHECK_FALSE(room.state.gate);
  CHECK_FALSE(room.state.is_playing);
  CHECK(room.state.seq == seq);
  const AuditRecord& audit = only_audit(fx, "GATE_RELEASED");
  CHECK(json::serialize(audit.detail) == R"({"played":false,"reason":"quorum"})");
  CHECK(audit.seq == seq);
}

TEST_CASE("ready gate releases on timeout", "[room][gate]") {
  RoomFixture room;
  populate(room, 3);
  seek(room, "node-a/1", 30, true);
  const Millis deadline = room.state.gate->deadline;
  room.now = deadline - 1;
  CHECK(room.tick().frames.empty());
  CHECK(room.state.gate);
  room.now = deadline + 250;
  const Effects fx = room.tick();
  const OutFrame& play = only(fx, "PLAY_PAUSE");
  CHECK(play.frame.at("eventTimestamp") == deadline + 250);
  CHECK(json::serialize(only_audit(fx, "GATE_RELEASED").detail) == R"({"played":true,"reason":"timeout"})");
  CHECK_FALSE(room.state.gate);
}

TEST_CASE("fix: the released PLAY_PAUSE carries the release time, not the gate's start", "[room][gate]") {
  RoomFixture room;
  populate(room, 2);
  seek(room, "node-a/1", 30, true);
  const Millis opened = room.now;
  room.now += 3000;
  const Effects fx = ready(room, 2);
  CHECK(only(fx, "PLAY_PAUSE").frame.at("eventTimestamp") == opened + 3000);
  CHECK(only(fx, "PLAY_PAUSE").frame.at("eventTimestamp") != opened);
}

TEST_CASE("exactly one release per gate: later ticks and READYs are no-ops", "[room][gate]") {
  RoomFixture room;
  populate(room, 2);
  seek(room, "node-a/1", 30, true);
  room.now += room.settings.ready_timeout;
  CHECK(count_type(room.tick(), "PLAY_PAUSE") == 1);
  const RoomState after = room.state;
  const Effects again = room.tick();
  CHECK(again.frames.empty());
  CHECK(again.audit.empty());
  CHECK(room.state == after);
  const Effects late = ready(room, 2);
  CHECK(late.frames.empty());
  CHECK(late.audit.empty());
}

TEST_CASE("a READY counts once and only from an expected member", "[room][gate]") {
  RoomFixture room;
  populate(room, 4);  // quorum 3 of 4
  seek(room, "node-a/1", 30, true);
  room.join("node-a/9", "late");
  CHECK(ready(room, 2).frames.empty());
  CHECK(ready(room, 2).frames.empty());  // again: no count
  CHECK(room.send("node-a/1", R"({"type":"READY"})").frames.empty());  // seeker: already ready
  CHECK(room.send("node-a/9", R"({"type":"READY"})").frames.empty());  // not expected
  REQUIRE(room.state.gate);
  CHECK(room.state.gate->ready == ss({"u1", "u2"}));
  CHECK(count_type(ready(room, 3), "PLAY_PAUSE") == 1);
}

TEST_CASE("a READY without an open gate is ignored", "[room][gate]") {
  RoomFixture room;
  populate(room, 2);
  const Effects fx = ready(room, 2);
  CHECK(fx.frames.empty());
  CHECK(fx.audit.empty());
}

TEST_CASE("members who leave are removed from expected and ready and the quorum is re-evaluated", "[room][gate]") {
  RoomFixture room;
  populate(room, 4);  // quorum 3 of 4
  seek(room, "node-a/1", 30, true);
  ready(room, 2);
  REQUIRE(room.state.gate);
  const Effects fx = room.disconnect("node-a/4");  // 2 ready of 3 expected: quorum 2
  CHECK(types(fx) == ss({"USER_LEFT", "PLAY_PAUSE"}));
  CHECK(only(fx, "PLAY_PAUSE").recipients.size() == 3);
  CHECK(json::serialize(only_audit(fx, "GATE_RELEASED").detail) == R"({"played":true,"reason":"quorum"})");
}

TEST_CASE("a seeker who leaves is removed from the ready set too", "[room][gate]") {
  RoomFixture room;
  populate(room, 3);
  seek(room, "node-a/1", 30, true);
  room.send("node-a/1", R"({"type":"LEAVE"})");
  REQUIRE(room.state.gate);
  CHECK(room.state.gate->expected == ss({"u2", "u3"}));
  CHECK(room.state.gate->ready.empty());
  CHECK(ready(room, 2).frames.empty());  // 1 of 2 expected: quorum 2
  CHECK(count_type(ready(room, 3), "PLAY_PAUSE") == 1);
}

TEST_CASE("fix: PLAY_PAUSE cancels a pending gate", "[room][gate]") {
  RoomFixture room;
  populate(room, 3);
  seek(room, "node-a/1", 30, true);
  const Effects fx = room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"pause"})");
  CHECK_FALSE(room.state.gate);
  CHECK(audit_types(fx) == ss({"GATE_RELEASED", "PLAY_PAUSE"}));
  CHECK(json::serialize(only_audit(fx, "GATE_RELEASED").detail) == R"({"played":false,"reason":"cancelled"})");
  CHECK(count_type(fx, "PLAY_PAUSE") == 1);  // the user's, not a release
  room.now += room.settings.ready_timeout;
  CHECK(room.tick().frames.empty());
  CHECK_FALSE(room.state.is_playing);
}

TEST_CASE("fix: another SEEK replaces the open gate", "[room][gate]") {
  RoomFixture room;
  populate(room, 3);
  seek(room, "node-a/1", 30, true);
  room.now += 100;
  const Effects fx = seek(room, "node-a/1", 60, false);
  CHECK(audit_types(fx) == ss({"GATE_RELEASED", "SEEK"}));
  CHECK(only_audit(fx, "GATE_RELEASED").detail.at("reason") == "cancelled");
  REQUIRE(room.state.gate);
  CHECK(room.state.gate->id == 2);
  CHECK(room.state.gate->target == 60);
  CHECK_FALSE(room.state.gate->desired_play);
  CHECK(room.state.gate->ready == ss({"u1"}));
}

TEST_CASE("fix: URL_CHANGE cancels a pending gate", "[room][gate]") {
  RoomFixture room;
  populate(room, 3);
  seek(room, "node-a/1", 30, true);
  const Effects fx = room.send("node-a/1", R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/2"})");
  CHECK_FALSE(room.state.gate);
  CHECK(only_audit(fx, "GATE_RELEASED").detail.at("reason") == "cancelled");
}

TEST_CASE("fix: the room emptying cancels the gate", "[room][gate]") {
  RoomFixture room;
  populate(room, 2);
  seek(room, "node-a/1", 30, true);
  room.disconnect("node-a/1");
  REQUIRE(room.state.gate);
  const Effects fx = room.disconnect("node-a/2");
  CHECK_FALSE(room.state.gate);
  CHECK(json::serialize(only_audit(fx, "GATE_RELEASED").detail) == R"({"played":false,"reason":"cancelled"})");
  CHECK_FALSE(room.state.is_playing);
  CHECK(count_type(fx, "PLAY_PAUSE") == 0);
}

TEST_CASE("an overdue gate times out before the next input is applied", "[room][gate]") {
  RoomFixture room;
  populate(room, 3);
  seek(room, "node-a/1", 30, true);
  room.now += room.settings.ready_timeout + 10;
  const Effects fx = ready(room, 2);
  CHECK(json::serialize(only_audit(fx, "GATE_RELEASED").detail) == R"({"played":true,"reason":"timeout"})");
}
