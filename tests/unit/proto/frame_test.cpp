#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "core/proto/frame.hpp"

using namespace tandem::proto;

namespace {

Frame parsed(std::string_view text) {
  ParseResult result = parse(text);
  INFO(text);
  REQUIRE(std::holds_alternative<Frame>(result));
  return std::get<Frame>(std::move(result));
}

std::optional<ErrorCode> parse_error(std::string_view text) {
  const ParseResult result = parse(text);
  if (const auto* error = std::get_if<ParseError>(&result)) return error->code;
  return std::nullopt;
}

template <class T>
T body_of(std::string_view text) {
  Frame frame = parsed(text);
  INFO(text);
  REQUIRE(std::holds_alternative<T>(frame.body));
  CHECK_FALSE(frame.field_error.has_value());
  return std::get<T>(std::move(frame.body));
}

// Index of each alternative of Body, for the tables.
enum Kind {
  kPing, kJoin, kLeave, kUpdateUsername, kToggleGuestControl, kTransferHost, kPlayPause, kSeek, kReady,
  kHostHeartbeat, kPositionUpdate, kUrlChange, kRequestSync, kTargeted, kRelay
};

}  // namespace

TEST_CASE("well-formed client frames parse to their kind", "[proto]") {
  struct Case {
    const char* text;
    Kind kind;
  };
  const Case cases[] = {
      {R"({"type":"PING","timestamp":1})", kPing},
      {R"({"type":"PING"})", kPing},
      {R"({"type":"JOIN","roomId":"r","userId":"u"})", kJoin},
      {R"({"type":"LEAVE","userId":"u","roomId":"r"})", kLeave},
      {R"({"type":"UPDATE_USERNAME","username":"Ann"})", kUpdateUsername},
      {R"({"type":"UPDATE_USERNAME","username":null})", kUpdateUsername},
      {R"({"type":"UPDATE_USERNAME"})", kUpdateUsername},
      {R"({"type":"TOGGLE_GUEST_CONTROL","enabled":true})", kToggleGuestControl},
      {R"({"type":"TRANSFER_HOST","targetUserId":"u2"})", kTransferHost},
      {R"({"type":"PLAY_PAUSE","control":"play"})", kPlayPause},
      {R"({"type":"PLAY_PAUSE","control":"pause","currentTime":12.5,"eventTimestamp":1732665600000})", kPlayPause},
      {R"({"type":"PLAY_PAUSE","control":"pause","currentTime":null,"eventTimestamp":null})", kPlayPause},
      {R"({"type":"SEEK","currentTime":0})", kSeek},
      {R"({"type":"SEEK","currentTime":30,"isPlaying":true,"eventTimestamp":5})", kSeek},
      {R"({"type":"READY"})", kReady},
      {R"({"type":"READY","targetTime":"not validated"})", kReady},
      {R"({"type":"HOST_HEARTBEAT","currentTime":3,"isPlaying":false})", kHostHeartbeat},
      {R"({"type":"POSITION_UPDATE","currentTime":3,"isPlaying":true})", kPositionUpdate},
      {R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/1"})", kUrlChange},
      {R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/1","currentTime":4})", kUrlChange},
      {R"({"type":"REQUEST_SYNC"})", kRequestSync},
      {R"({"type":"REQUEST_SYNC","respectAutoPlay":"whatever"})", kRequestSync},
      {R"({"type":"OFFER","to":"u2","offer":{"sdp":"v=0"}})", kTargeted},
      {R"({"type":"ANSWER","to":"u2","answer":{"sdp":"v=0"}})", kTargeted},
      {R"({"type":"ICE_CANDIDATE","to":"u2","candidate":{}})", kTargeted},
      {R"({"type":"PLAYBACK_ACK","to":"u2"})", kTargeted},
      {R"({"type":"SYNC_RESPONSE","to":"u2","currentTime":1})", kTargeted},
      {R"({"type":"REACTION","emoji":"x"})", kRelay},
      {R"({"type":"REACTION","to":null})", kRelay},
      {R"({"type":"PLAY_PAUSE","control":"play","to":"u2"})", kPlayPause},  // known types keep their kind
  };
  for (const Case& c : cases) {
    INFO(c.text);
    const ParseResult result = parse(c.text);
    REQUIRE(std::holds_alternative<Frame>(result));
    const Frame& frame = std::get<Frame>(result);
    CHECK(frame.body.index() == static_cast<std::size_t>(c.kind));
    CHECK_FALSE(frame.field_error.has_value());
  }
}

TEST_CASE("frames that are not JSON objects are bad_json", "[proto]") {
  const char* cases[] = {
      "",       "not json", "[]",       "[{\"type\":\"PING\"}]", "\"PING\"", "42", "null", "true",
      "{",      "{\"type\":\"PING\",}", "{\"type\":\"PING\"} trailing",
      "{\"type\":\"PING\",\"x\":\"\xff\"}",  // invalid UTF-8
      "{\"type\":\"PING\",\"x\":NaN}",
  };
  for (const char* text : cases) {
    INFO(text);
    CHECK(parse_error(text) == ErrorCode::bad_json);
  }
  std::string deep(100, '[');
  deep = "{\"type\":\"PING\",\"x\":" + deep + std::string(100, ']') + "}";
  CHECK(parse_error(deep) == ErrorCode::bad_json);
}

TEST_CASE("objects without a string type are bad_field", "[proto]") {
  const char* cases[] = {
      "{}", R"({"type":null})", R"({"type":1})", R"({"type":["PING"]})", R"({"Type":"PING"})",
  };
  for (const char* text : cases) {
    INFO(text);
    CHECK(parse_error(text) == ErrorCode::bad_field);
  }
}

TEST_CASE("fix: server frame types from a client are reserved_type", "[proto]") {
  const char* cases[] = {
      R"({"type":"ROOM_STATE"})",       R"({"type":"USER_JOINED","userId":"u"})",
      R"({"type":"USER_LEFT"})",        R"({"type":"HOST_CHANGED","hostUserId":"me"})",
      R"({"type":"GUEST_CONTROL","enabled":true})", R"({"type":"USERNAME_UPDATED"})",
      R"({"type":"PONG"})",             R"({"type":"ERROR","code":"x"})",
      R"({"type":"SEEK_PAUSE","currentTime":1})",
      // reserved wins over `to`
      R"({"type":"HOST_CHANGED","to":"u2"})", R"({"type":"ERROR","to":"u2"})",
      // SYNC_RESPONSE is allowed only with a string `to`
      R"({"type":"SYNC_RESPONSE"})", R"({"type":"SYNC_RESPONSE","to":null})", R"({"type":"SYNC_RESPONSE","to":5})",
  };
  for (const char* text : cases) {
    INFO(text);
    CHECK(parse_error(text) == ErrorCode::reserved_type);
  }
}

TEST_CASE("fix: present fields of the wrong type or range are bad_field", "[proto]") {
  const char* cases[] = {
      R"({"type":"TOGGLE_GUEST_CONTROL"})",
      R"({"type":"TOGGLE_GUEST_CONTROL","enabled":null})",
      R"({"type":"TOGGLE_GUEST_CONTROL","enabled":"true"})",
      R"({"type":"TOGGLE_GUEST_CONTROL","enabled":1})",
      R"({"type":"TRANSFER_HOST"})",
      R"({"type":"TRANSFER_HOST","targetUserId":7})",
      R"({"type":"PLAY_PAUSE"})",
      R"({"type":"PLAY_PAUSE","control":"stop"})",
      R"({"type":"PLAY_PAUSE","control":true})",
      R"({"type":"PLAY_PAUSE","control":"play","currentTime":"12"})",
      R"({"type":"PLAY_PAUSE","control":"play","currentTime":-1})",
      R"({"type":"PLAY_PAUSE","control":"play","currentTime":1e999})",
      R"({"type":"PLAY_PAUSE","control":"play","eventTimestamp":"now"})",
      R"({"type":"SEEK"})",
      R"({"type":"SEEK","currentTime":null})",
      R"({"type":"SEEK","currentTime":"5"})",
      R"({"type":"SEEK","currentTime":-0.5})",
      R"({"type":"SEEK","currentTime":{}})",
      R"({"type":"SEEK","currentTime":5,"isPlaying":"yes"})",
      R"({"type":"SEEK","currentTime":5,"eventTimestamp":[]})",
      R"({"type":"HOST_HEARTBEAT"})",
      R"({"type":"HOST_HEARTBEAT","currentTime":"1","isPlaying":true})",
      R"({"type":"HOST_HEARTBEAT","currentTime":1,"isPlaying":0})",
      R"({"type":"URL_CHANGE"})",
      R"({"type":"URL_CHANGE","url":5})",
      R"({"type":"URL_CHANGE","url":"https://www.netflix.com/","currentTime":-3})",
      R"({"type":"OFFER","offer":{}})",
      R"({"type":"OFFER","to":null})",
      R"({"type":"ANSWER","to":42})",
      R"({"type":"ICE_CANDIDATE","to":{"u":1}})",
      R"({"type":"PLAYBACK_ACK","to":3})",
      R"({"type":"REACTION","to":false})",
  };
  for (const char* text : cases) {
    INFO(text);
    const Frame frame = parsed(text);
    CHECK(frame.field_error == ErrorCode::bad_field);
  }
}

TEST_CASE("POSITION_UPDATE with bad fields is marked for silent dropping", "[proto]") {
  const char* bad[] = {
      R"({"type":"POSITION_UPDATE","currentTime":"1","isPlaying":true})",
      R"({"type":"POSITION_UPDATE","currentTime":-1,"isPlaying":true})",
      R"({"type":"POSITION_UPDATE","currentTime":1,"isPlaying":"true"})",
  };
  for (const char* text : bad) {
    INFO(text);
    const Frame frame = parsed(text);
    CHECK(std::holds_alternative<PositionUpdate>(frame.body));
    CHECK(frame.field_error == ErrorCode::bad_field);
  }
  // Absent currentTime reads as 0, which the room ignores.
  CHECK(body_of<PositionUpdate>(R"({"type":"POSITION_UPDATE"})").current_time == 0);
}

TEST_CASE("playback frames carry their values", "[proto]") {
  const PlayPause play = body_of<PlayPause>(
      R"({"type":"PLAY_PAUSE","control":"play","currentTime":12.5,"eventTimestamp":1732665600123})");
  CHECK(play.play);
  CHECK(play.current_time == 12.5);
  CHECK(play.event_timestamp == 1732665600123.0);

  const PlayPause pause = body_of<PlayPause>(R"({"type":"PLAY_PAUSE","control":"pause","currentTime":null})");
  CHECK_FALSE(pause.play);
  CHECK_FALSE(pause.current_time);
  CHECK_FALSE(pause.event_timestamp);

  const Seek seek = body_of<Seek>(R"({"type":"SEEK","currentTime":30})");
  CHECK(seek.current_time == 30);
  CHECK_FALSE(seek.is_playing);  // default false
  CHECK_FALSE(seek.event_timestamp);
  CHECK(body_of<Seek>(R"({"type":"SEEK","currentTime":30,"isPlaying":true})").is_playing);
  CHECK(body_of<Seek>(R"({"type":"SEEK","currentTime":30,"isPlaying":null})").is_playing == false);

  const HostHeartbeat beat = body_of<HostHeartbeat>(R"({"type":"HOST_HEARTBEAT","currentTime":7,"isPlaying":true,"eventTimestamp":9})");
  CHECK(beat.current_time == 7);
  CHECK(beat.is_playing);
  CHECK(beat.event_timestamp == 9.0);

  const PositionUpdate position = body_of<PositionUpdate>(R"({"type":"POSITION_UPDATE","currentTime":8.25,"isPlaying":true})");
  CHECK(position.current_time == 8.25);
  CHECK(position.is_playing);

  const UrlChange url = body_of<UrlChange>(R"({"type":"URL_CHANGE","url":"https://www.netflix.com/watch/9"})");
  CHECK(url.url == "https://www.netflix.com/watch/9");
  CHECK_FALSE(url.current_time);
  CHECK(body_of<UrlChange>(R"({"type":"URL_CHANGE","url":"u","currentTime":0})").current_time == 0.0);

  CHECK(body_of<ToggleGuestControl>(R"({"type":"TOGGLE_GUEST_CONTROL","enabled":true})").enabled);
  CHECK_FALSE(body_of<ToggleGuestControl>(R"({"type":"TOGGLE_GUEST_CONTROL","enabled":false})").enabled);
  CHECK(body_of<TransferHost>(R"({"type":"TRANSFER_HOST","targetUserId":"u9"})").target_user_id == "u9");
}

TEST_CASE("integer and large numbers are accepted as finite numbers", "[proto]") {
  CHECK(body_of<Seek>(R"({"type":"SEEK","currentTime":18446744073709551615})").current_time > 1e19);
  CHECK(body_of<Seek>(R"({"type":"SEEK","currentTime":1.5e3})").current_time == 1500);
  CHECK(body_of<PlayPause>(R"({"type":"PLAY_PAUSE","control":"play","eventTimestamp":-5})").event_timestamp == -5.0);
}

TEST_CASE("usernames in UPDATE_USERNAME are cleaned as in JOIN", "[proto]") {
  CHECK(body_of<UpdateUsername>(R"({"type":"UPDATE_USERNAME","username":"  Bob\t"})").username == "Bob");
  CHECK_FALSE(body_of<UpdateUsername>(R"({"type":"UPDATE_USERNAME","username":"   "})").username);
  CHECK_FALSE(body_of<UpdateUsername>(R"({"type":"UPDATE_USERNAME","username":null})").username);
  const std::string long_name(80, 'n');
  CHECK(body_of<UpdateUsername>(R"({"type":"UPDATE_USERNAME","username":")" + long_name + "\"}").username ==
        std::string(50, 'n'));
  const Frame bad = parsed(R"({"type":"UPDATE_USERNAME","username":5})");
  CHECK(bad.field_error == ErrorCode::invalid_username);
}

TEST_CASE("targeted and relayed frames keep the client's object", "[proto]") {
  const Targeted offer = body_of<Targeted>(R"({"type":"OFFER","to":"u2","offer":{"sdp":"v=0"},"userId":"forged"})");
  CHECK(offer.to == "u2");
  CHECK(offer.body.at("type") == "OFFER");
  CHECK(offer.body.at("offer").at("sdp") == "v=0");
  CHECK(offer.body.at("userId") == "forged");  // the room overwrites it

  const Targeted ack = body_of<Targeted>(R"({"type":"PLAYBACK_ACK","to":"u3","n":1})");
  CHECK(ack.to == "u3");
  CHECK(ack.body.at("n") == 1);

  const Relay relay = body_of<Relay>(R"({"type":"REACTION","emoji":"x","nested":{"a":[1,2]}})");
  CHECK(relay.body.at("emoji") == "x");
  CHECK(relay.body.at("nested").at("a").as_array().size() == 2);

  CHECK(parsed(R"({"type":"REACTION"})").type == "REACTION");
}

TEST_CASE("a URL with a control character or beyond limits.max_url_bytes is bad_field", "[proto]") {
  const auto url_change = [](const std::string& url_json) {
    return R"({"type":"URL_CHANGE","url":)" + url_json + "}";
  };
  // NUL (which PostgreSQL's jsonb refuses), ESC, other C0, DEL and C1 (U+0085, U+009B CSI).
  for (const char* url : {R"("https://www.netflix.com/\u0000")", R"("https://www.netflix.com/\u001b[31m")",
                          R"("https://www.netflix.com/\t")", R"("https://www.netflix.com/\u007f")",
                          R"("https://www.netflix.com/\u0085")", R"("https://www.netflix.com/\u009b2J")"}) {
    INFO(url);
    CHECK(parsed(url_change(url)).field_error == ErrorCode::bad_field);
  }
  // Not control characters: U+00A0 and beyond, percent-escapes.
  CHECK_FALSE(parsed(url_change(R"("https://www.netflix.com/\u00a0%00é")")).field_error);

  const std::string prefix = "https://www.netflix.com/";
  const ParseLimits limits{100};
  const std::string at_bound = prefix + std::string(100 - prefix.size(), 'a');
  const ParseResult fits = parse(url_change('"' + at_bound + '"'), limits);
  REQUIRE(std::holds_alternative<Frame>(fits));
  CHECK_FALSE(std::get<Frame>(fits).field_error);
  CHECK(std::get<UrlChange>(std::get<Frame>(fits).body).url == at_bound);
  const ParseResult over = parse(url_change('"' + at_bound + "a\""), limits);
  REQUIRE(std::holds_alternative<Frame>(over));
  CHECK(std::get<Frame>(over).field_error == ErrorCode::bad_field);
  // The default bound is 4096 bytes: a 60 KB URL is refused.
  CHECK(parsed(url_change('"' + prefix + std::string(60'000, 'a') + '"')).field_error == ErrorCode::bad_field);
}

TEST_CASE("a peer's SYNC_RESPONSE: typed currentTime, isPlaying and url, the URL held to the URL_CHANGE bounds", "[proto]") {
  const auto sync = [](const std::string& fields) {
    return parsed(R"({"type":"SYNC_RESPONSE","to":"user_b",)" + fields + "}");
  };
  const Frame ok = sync(R"("currentTime":3,"isPlaying":true,"url":"https://www.netflix.com/watch/1")");
  CHECK_FALSE(ok.field_error);
  REQUIRE(std::holds_alternative<Targeted>(ok.body));
  CHECK(std::get<Targeted>(ok.body).url == "https://www.netflix.com/watch/1");
  CHECK_FALSE(std::get<Targeted>(sync(R"("currentTime":3)").body).url);
  for (const char* bad : {R"("currentTime":"3")", R"("currentTime":-1)", R"("isPlaying":1)", R"("url":7)",
                          R"("url":"https://www.netflix.com/\u001b[2J")"}) {
    INFO(bad);
    CHECK(sync(bad).field_error == ErrorCode::bad_field);
  }
  CHECK(sync(R"("url":")" + std::string(5000, 'a') + "\"").field_error == ErrorCode::bad_field);
}

// Found by tests/fuzz/proto_frame_fuzz.cpp: Boost.JSON 1.81 reads 1e400 as infinity and 0e400 as
// NaN, and writes them as `Infinity` and `NaN`; the room passed such an object on, so every member
// received a frame no JSON parser accepts.
TEST_CASE("a passed-on object with a number beyond a double's range is bad_field", "[proto]") {
  for (const std::string_view text : {R"({"type":"REACTION","n":1e400})",
                                      R"({"type":"REACTION","nested":{"a":[1,-1e999]}})",
                                      R"({"type":"OFFER","to":"u2","offer":{"n":0e400}})",
                                      R"({"type":"PLAYBACK_ACK","to":"u3","n":[[[2E308]]]})"}) {
    INFO(text);
    CHECK(parsed(text).field_error == ErrorCode::bad_field);
  }
  // The largest finite double is a number like any other.
  CHECK(body_of<Relay>(R"({"type":"REACTION","n":1.7976931348623157e308})").body.at("n").as_double() > 1e308);
}
