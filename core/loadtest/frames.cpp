#include "core/loadtest/frames.hpp"

#include <fmt/format.h>

namespace tandem::loadtest::frames {

std::string join(std::string_view user_id, std::string_view room_id, std::string_view username, double now_ms) {
  return fmt::format(R"({{"type":"JOIN","userId":"{}","roomId":"{}","username":"{}","pin":null,"timestamp":{:.0f}}})",
                     user_id, room_id, username, now_ms);
}

std::string request_sync(std::string_view user_id, std::string_view room_id) {
  return fmt::format(R"({{"type":"REQUEST_SYNC","userId":"{}","roomId":"{}","respectAutoPlay":true}})", user_id,
                     room_id);
}

std::string ping(double now_ms) { return fmt::format(R"({{"type":"PING","timestamp":{:.0f}}})", now_ms); }

std::string position_update(std::string_view user_id, std::string_view room_id, double current_time, bool playing) {
  return fmt::format(R"({{"type":"POSITION_UPDATE","userId":"{}","roomId":"{}","currentTime":{:.3f},"isPlaying":{}}})",
                     user_id, room_id, current_time, playing);
}

std::string host_heartbeat(std::string_view user_id, std::string_view room_id, double current_time, bool playing,
                           double event_ms) {
  return fmt::format(
      R"({{"type":"HOST_HEARTBEAT","userId":"{}","roomId":"{}","currentTime":{:.3f},"isPlaying":{},"eventTimestamp":{:.3f}}})",
      user_id, room_id, current_time, playing, event_ms);
}

std::string play_pause(std::string_view user_id, std::string_view room_id, bool play, double current_time,
                       double event_ms) {
  return fmt::format(
      R"({{"type":"PLAY_PAUSE","userId":"{}","roomId":"{}","control":"{}","currentTime":{:.3f},"eventTimestamp":{:.3f}}})",
      user_id, room_id, play ? "play" : "pause", current_time, event_ms);
}

std::string seek(std::string_view user_id, std::string_view room_id, double current_time, bool playing, double event_ms) {
  return fmt::format(
      R"({{"type":"SEEK","userId":"{}","roomId":"{}","currentTime":{:.3f},"isPlaying":{},"eventTimestamp":{:.3f}}})",
      user_id, room_id, current_time, playing, event_ms);
}

std::string ready(std::string_view user_id, std::string_view room_id, double target_time) {
  return fmt::format(R"({{"type":"READY","userId":"{}","roomId":"{}","targetTime":{:.3f}}})", user_id, room_id,
                     target_time);
}

std::string offer(std::string_view to, std::string_view sdp, double sent_ms) {
  return fmt::format(R"({{"type":"OFFER","to":"{}","offer":{{"type":"offer","sdp":"{}"}},"ltSentAt":{:.3f}}})", to, sdp,
                     sent_ms);
}

std::string answer(std::string_view to, std::string_view sdp, double sent_ms) {
  return fmt::format(R"({{"type":"ANSWER","to":"{}","answer":{{"type":"answer","sdp":"{}"}},"ltSentAt":{:.3f}}})", to,
                     sdp, sent_ms);
}

std::string leave(std::string_view user_id, std::string_view room_id) {
  return fmt::format(R"({{"type":"LEAVE","userId":"{}","roomId":"{}"}})", user_id, room_id);
}

std::string fake_sdp(std::size_t bytes) {
  static constexpr std::string_view kHead =
      "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0\\r\\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\\r\\nc=IN IP4 0.0.0.0\\r\\n";
  static constexpr std::string_view kLine = "a=candidate:842163049 1 udp 1677729535 192.0.2.10 54321 typ srflx\\r\\n";
  std::string sdp(kHead.substr(0, std::min(bytes, kHead.size())));
  while (sdp.size() + kLine.size() <= bytes) sdp += kLine;
  return sdp;
}

}  // namespace tandem::loadtest::frames
