#include "core/engine/engine.hpp"

#include <algorithm>

#include "core/config/config.hpp"

namespace tandem::engine {

void StatusRooms::add(RoomSummary row) {
  const std::size_t index = rooms.size();
  std::sort(row.addrs.begin(), row.addrs.end());
  row.addrs.erase(std::unique(row.addrs.begin(), row.addrs.end()), row.addrs.end());
  for (const auto& a : row.addrs) by_addr[a].push_back(index);
  rooms.push_back(std::move(row));
}

room::Settings room_settings(const config::Config& c) {
  room::Settings s;
  s.host_grace = c.rooms.host_grace.count();
  s.empty_ttl = c.rooms.empty_ttl.count();
  s.ready_timeout = c.rooms.ready_timeout.count();
  s.stale_after = c.limits.stale_after.count();
  s.max_room_members = static_cast<std::size_t>(c.limits.max_room_members);
  s.allowed_url_prefixes = c.rooms.allowed_url_prefixes;
  s.strict_identity = c.security.strict_identity;
  s.pin_secret = c.security.pin_secret;
  s.max_pin_attempts = static_cast<std::size_t>(c.limits.pin_attempts);
  s.pin_attempts_per_room_minute = static_cast<std::size_t>(c.limits.pin_attempts_per_room_minute);
  return s;
}

}  // namespace tandem::engine
