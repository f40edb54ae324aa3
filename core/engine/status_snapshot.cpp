#include "core/engine/status_snapshot.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace tandem::engine {

void StatusSnapshots::publish(std::vector<RoomSummary> rooms, std::size_t local_connections,
                              std::size_t local_rooms) {
  auto next = std::make_shared<Snapshot>();
  next->rooms = std::move(rooms);
  for (std::size_t i = 0; i < next->rooms.size(); ++i) {
    auto addrs = next->rooms[i].addrs;
    std::sort(addrs.begin(), addrs.end());
    addrs.erase(std::unique(addrs.begin(), addrs.end()), addrs.end());
    for (const auto& a : addrs) next->by_addr[a].push_back(i);
  }
  next->local_connections = local_connections;
  next->local_rooms = local_rooms;
  std::lock_guard lock(mutex_);
  current_ = std::move(next);
}

std::string StatusSnapshots::render(const std::string& mode, const std::string& addr, const std::string& node_id,
                                    const std::string& timestamp_iso, double uptime_seconds) const {
  std::shared_ptr<const Snapshot> snap;
  {
    std::lock_guard lock(mutex_);
    snap = current_;
  }
  std::string out = "{\"nodeId\":";
  out += boost::json::serialize(boost::json::string(node_id));
  out += ",\"timestamp\":\"" + timestamp_iso + "\"";
  out += ",\"localConnections\":" + std::to_string(snap->local_connections);
  out += ",\"localRooms\":" + std::to_string(snap->local_rooms);
  out += ",\"rooms\":[";
  bool first = true;
  auto append = [&](const RoomSummary& r) {
    if (!first) out += ',';
    first = false;
    out += r.json;
  };
  if (mode == "full") {
    for (const auto& r : snap->rooms) append(r);
  } else if (auto it = snap->by_addr.find(addr); it != snap->by_addr.end()) {
    for (std::size_t i : it->second) append(snap->rooms[i]);
  }
  char uptime[32];
  std::snprintf(uptime, sizeof uptime, "%.3f", uptime_seconds);
  out += "],\"uptime\":";
  out += uptime;
  out += "}";
  return out;
}

}  // namespace tandem::engine
