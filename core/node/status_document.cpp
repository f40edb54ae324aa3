#include "core/node/status_document.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <fmt/format.h>

#include <iterator>

namespace tandem::node {

std::string render_status(const engine::StatusRooms& snap, const std::string& mode, const std::string& addr,
                          const StatusContext& context) {
  std::string out = "{\"nodeId\":";
  out += boost::json::serialize(boost::json::string(context.node_id));
  out += ",\"timestamp\":\"" + context.timestamp_iso + "\"";
  out += ",\"localConnections\":" + std::to_string(context.local_connections);
  out += ",\"localRooms\":" + std::to_string(snap.local_rooms);
  out += ",\"rooms\":[";
  bool first = true;
  auto append = [&](const engine::RoomSummary& r) {
    if (!first) out += ',';
    first = false;
    out += r.json;
  };
  if (mode == "full") {
    for (const auto& r : snap.rooms) append(r);
  } else if (auto it = snap.by_addr.find(addr); it != snap.by_addr.end()) {
    for (std::size_t i : it->second) append(snap.rooms[i]);
  }
  out += "],\"uptime\":";
  fmt::format_to(std::back_inserter(out), "{:.3f}}}", context.uptime_seconds);
  return out;
}

}  // namespace tandem::node
