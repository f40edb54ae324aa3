#include "room_fixture.hpp"

using namespace tandem::room;
using namespace tandem::room::testing;

TEST_CASE("fix: an OFFER reaches the member `to` on another node, stamped with the sender", "[room][relay]") {
  RoomFixture room;
  populate(room, 3);  // u3 on node-b
  const std::uint64_t seq = room.state.seq;
  const Effects fx = room.send(
      "node-a/1", R"({"type":"OFFER","to":"u3","offer":{"type":"offer","sdp":"v=0"},"userId":"forged","from":"forged","seq":99})");
  REQUIRE(fx.frames.size() == 1);
  const OutFrame& out = fx.frames[0];
  CHECK(out.recipients == ss({"node-b/3"}));
  CHECK_FALSE(out.sequenced);
  CHECK(out.frame.at("type") == "OFFER");
  CHECK(out.frame.at("to") == "u3");
  CHECK(out.frame.at("offer").at("sdp") == "v=0");
  CHECK(out.frame.at("from") == "u1");
  CHECK(out.frame.at("userId") == "u1");
  CHECK(out.frame.at("nodeId") == "node-a");  // the sender's node
  CHECK(out.frame.at("timestamp") == room.now);
  CHECK_FALSE(out.frame.contains("seq"));
  CHECK(room.state.seq == seq);
  CHECK(fx.audit.empty());
}

TEST_CASE("ANSWER and ICE_CANDIDATE are routed like OFFER", "[room][relay]") {
  RoomFixture room;
  populate(room, 3);
  for (const char* type : {"ANSWER", "ICE_CANDIDATE"}) {
    INFO(type);
    const Effects fx = room.send("node-b/3", R"({"type":")" + std::string(type) + R"(","to":"u2","x":1})", "node-b");
    REQUIRE(fx.frames.size() == 1);
    CHECK(fx.frames[0].recipients == ss({"node-a/2"}));
    CHECK(fx.frames[0].frame.at("from") == "u3");
    CHECK(fx.frames[0].frame.at("nodeId") == "node-b");
  }
}

TEST_CASE("a targeted frame to someone not in the room is dropped silently", "[room][relay]") {
  RoomFixture room;
  populate(room, 2);
  const Effects fx = room.send("node-a/1", R"({"type":"OFFER","to":"ghost","offer":{}})");
  CHECK(fx.frames.empty());
  CHECK(fx.closes.empty());
}

TEST_CASE("a targeted frame without a string `to` is bad_field", "[room][relay]") {
  RoomFixture room;
  populate(room, 2);
  for (const char* text : {R"({"type":"OFFER","offer":{}})", R"({"type":"PLAYBACK_ACK","to":7})"}) {
    INFO(text);
    const Effects fx = room.send("node-a/2", text);
    REQUIRE(fx.frames.size() == 1);
    CHECK(fx.frames[0].frame == error("bad_field", "Invalid or missing field"));
  }
}

TEST_CASE("any other frame with a string `to` is a targeted relay", "[room][relay]") {
  RoomFixture room;
  populate(room, 3);
  Effects fx = room.send("node-a/2", R"({"type":"PLAYBACK_ACK","to":"u1","ok":true})");
  REQUIRE(fx.frames.size() == 1);
  CHECK(fx.frames[0].recipients == ss({"node-a/1"}));
  CHECK(fx.frames[0].frame.at("from") == "u2");
  CHECK(fx.frames[0].frame.at("userId") == "u2");
  CHECK(fx.frames[0].frame.at("ok") == true);

  // A peer's SYNC_RESPONSE moves its recipient's player: from the host (a controller) only.
  fx = room.send("node-a/1", R"({"type":"SYNC_RESPONSE","to":"u3","currentTime":4})");
  REQUIRE(fx.frames.size() == 1);
  CHECK(fx.frames[0].recipients == ss({"node-b/3"}));
  CHECK(fx.frames[0].frame.at("type") == "SYNC_RESPONSE");
  CHECK_FALSE(fx.frames[0].sequenced);
  fx = room.send("node-a/2", R"({"type":"SYNC_RESPONSE","to":"u3","currentTime":4})");
  REQUIRE(fx.frames.size() == 1);
  CHECK(fx.frames[0].recipients == ss({"node-a/2"}));
  CHECK(fx.frames[0].frame.at("code") == "not_allowed");
  fx = room.send("node-a/1", R"({"type":"SYNC_RESPONSE","to":"u3","url":"https://evil.example/"})");
  REQUIRE(fx.frames.size() == 1);
  CHECK(fx.frames[0].frame.at("code") == "bad_url");
}

TEST_CASE("other types are relayed to the room including the sender with userId, nodeId, timestamp, seq",
          "[room][relay]") {
  RoomFixture room;
  populate(room, 3);
  const Effects fx = room.send("node-b/3", R"({"type":"REACTION","emoji":"+1","userId":"forged","seq":1})", "node-b");
  const OutFrame& out = only(fx, "REACTION");
  CHECK(sorted(out.recipients) == ss({"node-a/1", "node-a/2", "node-b/3"}));
  CHECK(out.sequenced);
  CHECK(out.frame.at("emoji") == "+1");
  CHECK(out.frame.at("userId") == "u3");
  CHECK(out.frame.at("nodeId") == "node-b");
  CHECK(out.frame.at("timestamp") == room.now);
  CHECK(out.frame.at("seq") == 4);
  CHECK(room.state.seq == 4);
  CHECK(fx.audit.empty());
}
