#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace tandem::engine {

// What the HTTP endpoints (PROTOCOL.md §7) need from a node, embedded or cluster. Thread-safe;
// called from the I/O threads for every request, so each call must be cheap (no scan of all
// rooms, no blocking database I/O).
class NodeView {
 public:
  virtual ~NodeView() = default;

  virtual const std::string& node_id() const = 0;
  // Listening, not draining, and the configured backends answer.
  virtual bool ready() const = 0;
  // Members of the room on every node (0 for an unknown room).
  virtual std::size_t presence(const std::string& room_id) = 0;
  // The /status document for a caller at `client_addr`; `mode` is "caller" or "full".
  virtual std::string status_json(const std::string& mode, const std::string& client_addr) = 0;

  struct ShortIdResult {
    std::string short_id;      // empty when refused
    bool rate_limited = false;
  };
  // The room's short id, minting one when it has none (room id already validated). An empty
  // short_id without rate_limited means the node cannot answer now (HTTP 503).
  virtual ShortIdResult short_id(const std::string& room_id, const std::string& client_addr) = 0;
  virtual std::optional<std::string> room_for_short_id(const std::string& short_id) = 0;
  // The Prometheus exposition.
  virtual std::string metrics_text() = 0;
};

}  // namespace tandem::engine
