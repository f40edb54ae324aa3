#include "room_fixture.hpp"

using namespace tandem::room;
using namespace tandem::room::testing;

TEST_CASE("PLAY_PAUSE stores the state and tells the room including the sender", "[room][playback]") {
  RoomFixture room;
  populate(room, 3);
  Effects fx = room.send("node-a/1",
                         R"({"type":"PLAY_PAUSE","control":"play","currentTime":12.5,"eventTimestamp":1732665600123,"userId":"forged"})");
  const OutFrame& frame = only(fx, "PLAY_PAUSE");
  CHECK(sorted(frame.recipients) == ss({"node-a/1", "node-a/2", "node-b/3"}));
  CHECK(frame.sequenced);
  CHECK(keys(frame.frame) == ss({"type", "userId", "control", "timestamp", "currentTime", "eventTimestamp", "seq"}));
  CHECK(frame.frame.at("userId") == "u1");
  CHECK(frame.frame.at("control") == "play");
  CHECK(frame.frame.at("currentTime") == 12.5);
  CHECK(frame.frame.at("eventTimestamp") == 1732665600123);
  CHECK(frame.frame.at("timestamp") == room.now);
  CHECK(room.state.is_playing);
  CHECK(room.state.current_time == 12.5);
  CHECK(room.state.position_at == room.now);
  const AuditRecord& audit = only_audit(fx, "PLAY_PAUSE");
  CHECK(audit.user_id == "u1");
  CHECK(audit.seq == frame.frame.at("seq").as_uint64());
  CHECK(audit.detail.at("control") == "play");

  fx = room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"pause"})");
  CHECK(keys(only(fx, "PLAY_PAUSE").frame) == ss({"type", "userId", "control", "timestamp", "seq"}));
  CHECK_FALSE(room.state.is_playing);
}

TEST_CASE("a pause without currentTime on a playing room freezes the extrapolated position", "[room][playback]") {
  RoomFixture room;
  populate(room, 1);
  room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play","currentTime":100})");
  room.now += 4500;
  room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"pause"})");
  CHECK_FALSE(room.state.is_playing);
  CHECK(room.state.current_time == Approx(104.5));
  room.now += 60'000;
  CHECK(position_at(room.state, room.now) == Approx(104.5));

  SECTION("and a play without currentTime continues from there") {
    room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play"})");
    room.now += 1000;
    CHECK(position_at(room.state, room.now) == Approx(105.5));
  }
}

TEST_CASE("fix: bad fields get bad_field and nothing is stored or relayed", "[room][playback]") {
  RoomFixture room;
  populate(room, 2);
  const RoomState before = room.state;
  const char* frames[] = {
      R"({"type":"PLAY_PAUSE","control":"play","currentTime":"12"})",
      R"({"type":"PLAY_PAUSE","control":"play","currentTime":-4})",
      R"({"type":"PLAY_PAUSE","control":"toggle"})",
      R"({"type":"PLAY_PAUSE","control":"play","eventTimestamp":{}})",
      R"({"type":"SEEK","currentTime":"30"})",
      R"({"type":"SEEK"})",
      R"({"type":"SEEK","currentTime":1e400})",
      R"({"type":"HOST_HEARTBEAT","currentTime":null,"isPlaying":true})",
      R"({"type":"HOST_HEARTBEAT","currentTime":5,"isPlaying":"true"})",
      R"({"type":"URL_CHANGE","url":null})",
      R"({"type":"URL_CHANGE","url":"https://www.netflix.com/","currentTime":"0"})",
  };
  for (const char* text : frames) {
    INFO(text);
    room.now += 10;
    const Effects fx = room.send("node-a/1", text);
    REQUIRE(fx.frames.size() == 1);
    CHECK(fx.frames[0].frame == error("bad_field", "Invalid or missing field"));
    CHECK(fx.frames[0].recipients == ss({"node-a/1"}));
    CHECK(fx.audit.empty());
  }
  CHECK(room.state.seq == before.seq);
  CHECK(room.state.current_time == before.current_time);
  CHECK(room.state.is_playing == before.is_playing);
  CHECK(room.state.url == before.url);
  CHECK_FALSE(room.state.gate);
}

TEST_CASE("SEEK stores the position paused and sends SEEK_PAUSE to the room", "[room][playback]") {
  RoomFixture room;
  populate(room, 3);
  room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play","currentTime":1})");
  room.now += 100;
  const Effects fx = room.send("node-a/1", R"({"type":"SEEK","currentTime":300,"isPlaying":true})");
  const OutFrame& frame = only(fx, "SEEK_PAUSE");
  CHECK(sorted(frame.recipients) == ss({"node-a/1", "node-a/2", "node-b/3"}));
  CHECK(json::serialize(frame.frame) == R"({"type":"SEEK_PAUSE","userId":"u1","currentTime":300,"eventTimestamp":null,"timestamp":)" +
                                            std::to_string(room.now) + R"(,"seq":5})");
  CHECK(room.state.current_time == 300);
  CHECK_FALSE(room.state.is_playing);
  CHECK(room.state.position_at == room.now);
  const AuditRecord& audit = only_audit(fx, "SEEK");
  CHECK(audit.seq == 5);
  CHECK(audit.detail.at("currentTime") == 300);
  CHECK(audit.detail.at("isPlaying") == true);

  const Effects with_ts = room.send("node-a/1", R"({"type":"SEEK","currentTime":12.25,"eventTimestamp":77})");
  CHECK(only(with_ts, "SEEK_PAUSE").frame.at("eventTimestamp") == 77);
  CHECK(only(with_ts, "SEEK_PAUSE").frame.at("currentTime") == 12.25);
}

TEST_CASE("HOST_HEARTBEAT stores the position and is relayed to the room", "[room][playback]") {
  RoomFixture room;
  populate(room, 2);
  const Effects fx = room.send("node-a/1", R"({"type":"HOST_HEARTBEAT","currentTime":42,"isPlaying":true})");
  const OutFrame& frame = only(fx, "HOST_HEARTBEAT");
  CHECK(sorted(frame.recipients) == ss({"node-a/1", "node-a/2"}));
  CHECK(json::serialize(frame.frame) == R"({"type":"HOST_HEARTBEAT","userId":"u1","currentTime":42,"isPlaying":true,"eventTimestamp":null,"timestamp":)" +
                                            std::to_string(room.now) + R"(,"seq":3})");
  CHECK(room.state.current_time == 42);
  CHECK(room.state.is_playing);
  CHECK(room.state.position_at == room.now);
  CHECK(fx.audit.empty());  // not audited
}

TEST_CASE("POSITION_UPDATE from the host stores the position and is never broadcast", "[room][playback]") {
  RoomFixture room;
  populate(room, 2);
  const std::uint64_t seq = room.state.seq;
  room.now += 1000;
  Effects fx = room.send("node-a/1", R"({"type":"POSITION_UPDATE","currentTime":61.5,"isPlaying":true})");
  CHECK(fx.frames.empty());
  CHECK(fx.audit.empty());
  CHECK(room.state.current_time == 61.5);
  CHECK(room.state.is_playing);
  CHECK(room.state.position_at == room.now);
  CHECK(room.state.seq == seq);

  SECTION("currentTime 0 is ignored") {
    room.now += 500;
    room.send("node-a/1", R"({"type":"POSITION_UPDATE","currentTime":0,"isPlaying":false})");
    CHECK(room.state.current_time == 61.5);
    CHECK(room.state.is_playing);
  }
  SECTION("from a non-controller it is ignored") {
    fx = room.send("node-a/2", R"({"type":"POSITION_UPDATE","currentTime":5,"isPlaying":false})");
    CHECK(fx.frames.empty());
    CHECK(room.state.current_time == 61.5);
  }
  SECTION("from a guest controller it is stored") {
    room.send("node-a/1", R"({"type":"TOGGLE_GUEST_CONTROL","enabled":true})");
    room.send("node-a/2", R"({"type":"POSITION_UPDATE","currentTime":5,"isPlaying":false})");
    CHECK(room.state.current_time == 5);
    CHECK_FALSE(room.state.is_playing);
  }
  SECTION("bad fields are dropped silently") {
    fx = room.send("node-a/1", R"({"type":"POSITION_UPDATE","currentTime":"5","isPlaying":false})");
    CHECK(fx.frames.empty());
    CHECK(room.state.current_time == 61.5);
  }
}

TEST_CASE("URL_CHANGE stores an allowed URL and tells the room", "[room][playback]") {
  RoomFixture room;
  populate(room, 2);
  room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play","currentTime":50})");
  room.now += 2000;
  Effects fx = room.send("node-a/1", R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/81","currentTime":0})");
  const OutFrame& frame = only(fx, "URL_CHANGE");
  CHECK(sorted(frame.recipients) == ss({"node-a/1", "node-a/2"}));
  CHECK(json::serialize(frame.frame) == R"({"type":"URL_CHANGE","userId":"u1","url":"https://www.netflix.com/watch/81","currentTime":0,"timestamp":)" +
                                            std::to_string(room.now) + R"(,"seq":4})");
  CHECK(room.state.url == "https://www.netflix.com/watch/81");
  CHECK(room.state.current_time == 0);
  CHECK(room.state.position_at == room.now);
  CHECK(only_audit(fx, "URL_CHANGE").detail.at("url") == "https://www.netflix.com/watch/81");

  SECTION("without currentTime the position is left alone and none is relayed") {
    room.now += 3000;
    fx = room.send("node-a/1", R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/82"})");
    CHECK(keys(only(fx, "URL_CHANGE").frame) == ss({"type", "userId", "url", "timestamp", "seq"}));
    CHECK(room.state.url == "https://www.netflix.com/watch/82");
    CHECK(room.state.current_time == 0);
    CHECK(position_at(room.state, room.now) == Approx(3.0));
  }
}

TEST_CASE("fix: URL_CHANGE outside the allowed prefixes is bad_url", "[room][playback]") {
  RoomFixture room;
  populate(room, 2);
  const char* urls[] = {
      "https://evil.example/", "https://www.netflix.com.evil.example/", "http://www.netflix.com/watch/1",
      "javascript:alert(1)", "",
  };
  for (const char* url : urls) {
    INFO(url);
    const Effects fx = room.send("node-a/1", R"({"type":"URL_CHANGE","url":")" + std::string(url) + "\"}");
    REQUIRE(fx.frames.size() == 1);
    CHECK(fx.frames[0].frame == error("bad_url", "URL not allowed"));
    CHECK(room.state.url.empty());
  }
  SECTION("other prefixes can be configured") {
    room.settings.allowed_url_prefixes = {"https://www.netflix.com/", "https://example.org/"};
    room.send("node-a/1", R"({"type":"URL_CHANGE","url":"https://example.org/v"})");
    CHECK(room.state.url == "https://example.org/v");
  }
  SECTION("an empty prefix list allows any URL") {
    room.settings.allowed_url_prefixes.clear();
    room.send("node-a/1", R"({"type":"URL_CHANGE","url":"https://evil.example/"})");
    CHECK(room.state.url == "https://evil.example/");
  }
}

TEST_CASE("fix: REQUEST_SYNC answers the sender with the extrapolated position", "[room][sync]") {
  RoomFixture room;
  populate(room, 2);
  room.send("node-a/1", R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/3"})");
  room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play","currentTime":10})");
  room.now += 2500;
  const std::uint64_t seq = room.state.seq;
  const Effects fx = room.send("node-a/2", R"({"type":"REQUEST_SYNC","respectAutoPlay":true})");
  REQUIRE(fx.frames.size() == 1);
  CHECK(fx.frames[0].recipients == ss({"node-a/2"}));
  CHECK_FALSE(fx.frames[0].sequenced);
  CHECK(json::serialize(fx.frames[0].frame) ==
        R"({"type":"SYNC_RESPONSE","fromUserId":"server","currentTime":1.25E1,"isPlaying":true,"url":"https://www.netflix.com/watch/3","timestamp":)" +
            std::to_string(room.now) + "}");
  CHECK(room.state.seq == seq);
  CHECK(fx.audit.empty());
}

TEST_CASE("fix: ROOM_STATE reports the extrapolated position of a playing room", "[room][sync]") {
  RoomFixture room;
  populate(room, 1);
  room.send("node-a/1", R"({"type":"PLAY_PAUSE","control":"play","currentTime":10})");
  room.now += 30'000;
  const Effects fx = room.join("node-a/2", "u2");
  CHECK(only(fx, "ROOM_STATE").frame.at("currentTime") == 40);
  CHECK(only(fx, "ROOM_STATE").frame.at("isPlaying") == true);
}

TEST_CASE("position_at extrapolates only while playing, in seconds", "[room][sync]") {
  RoomState state;
  state.current_time = 10;
  state.position_at = kStart;
  CHECK(position_at(state, kStart + 5000) == 10);
  state.is_playing = true;
  CHECK(position_at(state, kStart + 5000) == Approx(15));
  CHECK(position_at(state, kStart + 1) == Approx(10.001));
  CHECK(position_at(state, kStart - 1000) == 10);  // never backwards
}

TEST_CASE("a reported position refers to when the node read the frame, not when it was applied", "[room][playback]") {
  RoomFixture room;
  populate(room, 2);
  room.now += 10'000;
  const char* text = GENERATE(R"({"type":"POSITION_UPDATE","currentTime":42,"isPlaying":true})",
                              R"({"type":"HOST_HEARTBEAT","currentTime":42,"isPlaying":true})",
                              R"({"type":"PLAY_PAUSE","control":"play","currentTime":42})");
  CAPTURE(text);
  // Read 800 ms ago, applied now (it waited behind other changes): the video is at 42.8 now.
  proto::ParseResult parsed = proto::parse(text);
  REQUIRE(std::holds_alternative<proto::Frame>(parsed));
  room.apply_input(FrameInput{"node-a/1", "node-a", std::get<proto::Frame>(std::move(parsed)), room.now - 800});
  CHECK(room.state.current_time == 42);
  CHECK(room.state.position_at == room.now - 800);
  CHECK(position_at(room.state, room.now) == Approx(42.8));

  // A time after the application (a clock that moved back) counts as the time of application.
  proto::ParseResult again = proto::parse(R"({"type":"POSITION_UPDATE","currentTime":50,"isPlaying":true})");
  room.apply_input(FrameInput{"node-a/1", "node-a", std::get<proto::Frame>(std::move(again)), room.now + 5000});
  CHECK(room.state.position_at == room.now);
}
