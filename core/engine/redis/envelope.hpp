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
// Wire form (JSON): {"r": room id, "v": version (absent for an uncommitted relay), "t": epoch
// ms when it was committed, "f": [[[conn…], "frame text"], …], "c": [[conn, code, reason], …],
// "s": room state (room::to_json; absent for relays; null when the room ended)}.
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
  // Committed envelopes: the state after the change (nullopt when the room ended).
  std::optional<room::RoomState> state;
};

// Serializes the frames of `effects` (each once). `state_json` is room::to_json(state) already
// serialized, or empty for a relay / ended room (`ended` tells which).
std::string encode_envelope(const std::string& room_id, std::uint64_t version, room::Millis sent_at,
                            const std::vector<room::OutFrame>& frames, const std::vector<room::Close>& closes,
                            std::string_view state_json);

// Throws std::invalid_argument on a malformed envelope (among others: a version that is not an
// unsigned integer, a close code outside 0-65535).
Envelope decode_envelope(std::string_view payload);

}  // namespace tandem::engine::redis
