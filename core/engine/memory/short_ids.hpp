#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/engine/journal.hpp"
#include "core/room/room.hpp"

namespace tandem::engine::memory {

// Short ids (docs/protocol.md §7, §10): 8 characters of [a-z0-9], unique among live ids (collision
// checked), valid while the room lives plus `ttl`. Minting is limited per client address.
// Thread-safe.
class ShortIds {
 public:
  ShortIds(room::Millis ttl, std::size_t mints_per_minute);

  struct Result {
    std::string short_id;  // empty when refused
    bool rate_limited = false;
    std::optional<ShortIdRecord> minted;  // set when a new id was created (persist it)
  };
  Result get_or_mint(const std::string& room_id, const std::string& addr, room::Millis now);
  std::optional<std::string> room_for(const std::string& short_id, room::Millis now) const;
  std::optional<std::string> short_id_for(const std::string& room_id, room::Millis now) const;
  // The room is alive at `now`: its id stays valid until now + ttl. Returns the record when the
  // expiry moved by more than a minute (worth persisting).
  std::optional<ShortIdRecord> keep_alive(const std::string& room_id, room::Millis now);
  void load(const std::vector<ShortIdRecord>& records);
  void prune(room::Millis now);
  std::size_t size() const;

 private:
  const room::Millis ttl_;
  const std::size_t mints_per_minute_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, ShortIdRecord> by_short_;
  std::unordered_map<std::string, std::string> by_room_;  // room id -> short id
  std::unordered_map<std::string, std::deque<room::Millis>> mints_by_addr_;
};

}  // namespace tandem::engine::memory
