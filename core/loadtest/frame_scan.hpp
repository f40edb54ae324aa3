#pragma once

// Reads the top-level fields a simulated client acts on from a server frame, without building a
// JSON document: a SAX handler on Boost.JSON's basic_parser (no allocation once the strings have
// grown to their working size). Nested objects and arrays (ROOM_STATE's users, an OFFER's offer)
// are skipped.
//
// Not thread-safe: one FrameScanner per worker thread; the fields are valid until the next scan().

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tandem::loadtest {

struct ScannedFrame {
  std::string type;
  std::string user_id;       // "userId"
  std::string room_id;       // "roomId"
  std::string to;            // "to" (targeted frames)
  std::string from;          // "from" (targeted relays)
  std::string host_user_id;  // "hostUserId"
  std::string code;          // ERROR "code"
  std::string control;       // PLAY_PAUSE "control"
  bool has_seq = false;
  std::int64_t seq = 0;
  bool has_event_timestamp = false;
  double event_timestamp = 0;  // ms since the epoch, sender's clock
  bool has_sent_at = false;
  double sent_at = 0;  // "ltSentAt": our own send stamp in relayed OFFER/ANSWER
  bool has_current_time = false;
  double current_time = 0;
  bool has_is_playing = false;
  bool is_playing = false;
};

class FrameScanner {
 public:
  FrameScanner();
  ~FrameScanner();
  FrameScanner(const FrameScanner&) = delete;
  FrameScanner& operator=(const FrameScanner&) = delete;

  // False when `text` is not a JSON object.
  bool scan(std::string_view text);
  const ScannedFrame& frame() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::loadtest
