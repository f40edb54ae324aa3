#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/room/room.hpp"

namespace tandem::engine::redis {

// What a node publishes on the channels of the nodes concerned by one room change (docs/protocol.md
// §3 "one order per room"): the frames with their recipients (connection ids of any node), the
// closes, and — for a committed change — the room's new version and state, so that every node
// with members keeps an exact copy of the room without asking Redis.
//
// A committed change that moved only the room's `seq` and `last_activity` (a generic relay's
// broadcast, issue "a relay does not rewrite the room"): the state at the version before, with
// these two values, is the state at the envelope's version. Both are absolute values, so the
// latest of several consecutive advances stands for all of them.
struct Advance {
  std::uint64_t seq = 0;
  room::Millis last_activity = 0;
  bool operator==(const Advance&) const = default;
};

// Wire form: a JSON head, a line feed, then the frames' texts one after another, as sent to
// clients. Head: {"r": room id, "v": version (absent for an uncommitted relay), "t": epoch ms
// when it was committed, "f": [[[conn…], byte length of the text(, 1 when sequenced)], …],
// "c": [[conn, code, reason], …], and for a committed change either "s": room state
// (room::to_json; null when the room ended) or "q": seq, "a": last activity (an Advance)}.
// The decoder also reads the form of earlier releases: the head alone, each frame's text a JSON
// string in place of its length.
struct Envelope {
  struct Frame {
    std::vector<room::ConnId> to;
    std::shared_ptr<const std::string> text;  // serialized once, shared by every local recipient
    bool sequenced = false;
  };

  std::string room_id;
  std::uint64_t version = 0;  // 0: a relay without a state change (targeted frames)
  room::Millis sent_at = 0;
  std::vector<Frame> frames;
  std::vector<room::Close> closes;
  // Committed envelopes: the state after the change (nullopt when the room ended), or, when
  // `advance` is set, nothing: the state before advanced.
  std::optional<room::RoomState> state;
  std::optional<Advance> advance;
};

// Serializes the frames of `effects` (each once). `state_json` is room::to_json(state) already
// serialized, or empty for a relay / ended room. With `advance` (and a version) the envelope
// carries the advance instead of a state.
std::string encode_envelope(const std::string& room_id, std::uint64_t version, room::Millis sent_at,
                            const std::vector<room::OutFrame>& frames, const std::vector<room::Close>& closes,
                            std::string_view state_json, const std::optional<Advance>& advance = std::nullopt);

// Throws std::invalid_argument on a malformed envelope (among others: a version that is not an
// unsigned integer, a close code outside 0-65535).
Envelope decode_envelope(std::string_view payload);

}  // namespace tandem::engine::redis
