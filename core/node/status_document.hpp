#pragma once

#include <cstddef>
#include <string>

#include "core/engine/engine.hpp"

namespace tandem::node {

struct StatusContext {
  std::string node_id;
  std::string timestamp_iso;
  std::size_t local_connections = 0;
  double uptime_seconds = 0;
};

// The /status document (docs/protocol.md §7, §10) from the engine's latest snapshot. `mode` is
// "caller" (only the rooms with a member at `addr`) or "full". Costs O(rooms of the caller):
// the snapshot is indexed by address when it is built.
std::string render_status(const engine::StatusRooms& rooms, const std::string& mode, const std::string& addr,
                          const StatusContext& context);

}  // namespace tandem::node
