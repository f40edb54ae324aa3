// room::Bookmark: the inputs it accepts change nothing but the fields it keeps, so that applying
// one in place and restoring the bookmark gives back the room exactly (the cluster's at-once path
// relies on it to skip copying the room).
#include "tests/unit/room/room_fixture.hpp"

namespace tandem::room::testing {
namespace {

FrameInput frame_input(const std::string& conn, std::string_view text) {
  proto::ParseResult parsed = proto::parse(text);
  REQUIRE(std::holds_alternative<proto::Frame>(parsed));
  return FrameInput{conn, "node-a", std::get<proto::Frame>(std::move(parsed))};
}

// A room with a playing host (u1 on node-a/1) and a guest (u2 on node-a/2).
RoomFixture playing_room() {
  RoomFixture room;
  room.join("node-a/1", "u1");
  room.join("node-a/2", "u2");
  room.now += 1'000;
  room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play","currentTime":10})");
  return room;
}

}  // namespace

TEST_CASE("Bookmark: PING, POSITION_UPDATE, REQUEST_SYNC and frames to one peer are undone exactly", "[room][bookmark]") {
  const auto [conn, text] = GENERATE(table<std::string, std::string>({
      {"node-a/1", R"({"type":"POSITION_UPDATE","currentTime":42.5,"isPlaying":false})"},  // the controller moves it
      {"node-a/2", R"({"type":"POSITION_UPDATE","currentTime":7,"isPlaying":true})"},      // a guest's: bookkeeping
      {"node-a/1", R"({"type":"PING","timestamp":1})"},
      {"node-a/2", R"({"type":"REQUEST_SYNC"})"},
      {"node-a/1", R"({"type":"OFFER","to":"u2","offer":{"sdp":"x"}})"},
      {"node-a/2", R"({"type":"SYNC_RESPONSE","to":"u1","currentTime":3})"},  // not the controller: ERROR
      {"node-a/9", R"({"type":"PING","timestamp":1})"},                        // not a member: PONG only
      {"node-a/9", R"({"type":"POSITION_UPDATE","currentTime":1,"isPlaying":true})"},
  }));
  RoomFixture room = playing_room();
  room.now += 2'500;
  const RoomState before = room.state;
  const Input input = frame_input(conn, text);
  INFO(conn << " " << text);

  const auto mark = Bookmark::take(room.state, input, room.now);
  REQUIRE(mark);
  const Effects fx = room.apply_input(input);
  CHECK(fx.audit.empty());
  if (conn != "node-a/9") CHECK_FALSE(room.state == before);  // a member's frame moves its last_seen at least
  mark->restore(room.state);
  CHECK(room.state == before);
}

TEST_CASE("Bookmark: nothing for inputs that may change more, or while a deadline is due", "[room][bookmark]") {
  RoomFixture room = playing_room();
  CHECK_FALSE(Bookmark::take(room.state, frame_input("node-a/1", R"({"type":"PLAY_PAUSE","control":"pause"})"), room.now));
  CHECK_FALSE(Bookmark::take(room.state, frame_input("node-a/1", R"({"type":"SEEK","currentTime":5,"isPlaying":true})"), room.now));
  CHECK_FALSE(Bookmark::take(room.state, frame_input("node-a/2", R"({"type":"READY"})"), room.now));
  CHECK_FALSE(Bookmark::take(room.state, frame_input("node-a/2", R"({"type":"REACTION","emoji":"x"})"), room.now));
  CHECK_FALSE(Bookmark::take(room.state, frame_input("node-a/1", R"({"type":"LEAVE"})"), room.now));
  CHECK_FALSE(Bookmark::take(room.state, DisconnectInput{"node-a/1"}, room.now));
  CHECK_FALSE(Bookmark::take(room.state, TickInput{}, room.now));

  // The host drops: its grace runs. Before the deadline a PING is bookkeeping; at it, the PING
  // would elect a new host first.
  room.disconnect("node-a/1");
  REQUIRE(room.state.host_grace_deadline);
  const Input ping = frame_input("node-a/2", R"({"type":"PING","timestamp":1})");
  CHECK(Bookmark::take(room.state, ping, *room.state.host_grace_deadline - 1));
  CHECK_FALSE(Bookmark::take(room.state, ping, *room.state.host_grace_deadline));
  const RoomState before = room.state;
  room.now = *room.state.host_grace_deadline;
  room.apply_input(ping);
  CHECK(room.state.host_user_id == "u2");  // why the bookmark refused: more than bookkeeping changed
  CHECK_FALSE(room.state.host_user_id == before.host_user_id);
}

}  // namespace tandem::room::testing
