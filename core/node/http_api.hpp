#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/engine/engine.hpp"
#include "core/net/handler.hpp"
#include "core/util/keyed_limiter.hpp"

namespace tandem::config {
struct Config;
}
namespace tandem::metrics {
class Registry;
}

namespace tandem::node {

// The HTTP endpoints of docs/protocol.md §7 and §10 (routing, CORS, methods, percent-decoding) over
// an engine, with room lookups rate-limited per client address. Answers that need the engine (presence, short ids) complete when the engine
// answers, without holding an I/O thread. Thread-safe.
class HttpApi {
 public:
  struct NodeState {
    std::function<bool()> ready;                     // /ready
    std::function<std::size_t()> local_connections;  // /status localConnections
  };

  HttpApi(const config::Config& config, engine::Engine& engine, metrics::Registry& registry, NodeState node);

  void handle(const net::HttpRequest& request, net::Handler::Respond respond);

 private:
  const config::Config& config_;
  engine::Engine& engine_;
  metrics::Registry& registry_;
  const NodeState node_;
  const std::chrono::steady_clock::time_point started_;
  // limits.lookups_per_minute per client address group: what reads or mints a room's short id or
  // presence (short ids are guessable only at this rate, per node).
  util::KeyedLimiter lookups_;
};

// ISO-8601 UTC with milliseconds, e.g. "2026-11-27T03:04:05.123Z".
std::string iso_time(std::int64_t epoch_ms);

}  // namespace tandem::node
