#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace tandem::engine {

// One room as /status shows it, serialized once per snapshot.
struct RoomSummary {
  std::string json;                 // {"roomId",…} (PROTOCOL.md §10 "/status")
  std::vector<std::string> addrs;   // client addresses of its members
};

// The /status document is built from a snapshot refreshed at most every second, so a poll costs
// O(rooms of the caller), independent of the number of rooms on the node. Thread-safe.
class StatusSnapshots {
 public:
  void publish(std::vector<RoomSummary> rooms, std::size_t local_connections, std::size_t local_rooms);

  // mode: "caller" (only rooms with a member at `addr`) or "full".
  std::string render(const std::string& mode, const std::string& addr, const std::string& node_id,
                     const std::string& timestamp_iso, double uptime_seconds) const;

 private:
  struct Snapshot {
    std::vector<RoomSummary> rooms;
    std::unordered_map<std::string, std::vector<std::size_t>> by_addr;
    std::size_t local_connections = 0;
    std::size_t local_rooms = 0;
  };
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> current_ = std::make_shared<Snapshot>();
};

}  // namespace tandem::engine
