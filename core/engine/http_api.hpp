#pragma once

#include "core/config/config.hpp"
#include "core/engine/node_view.hpp"
#include "core/net/http_types.hpp"

namespace tandem::engine {

// The HTTP endpoints of PROTOCOL.md §7 and §10 (routing, CORS, methods, percent-decoding),
// over any NodeView. Stateless apart from its references; thread-safe.
class HttpApi {
 public:
  HttpApi(const config::Config& config, NodeView& node) : config_(config), node_(node) {}
  net::HttpResponse handle(const net::HttpRequest& request);

 private:
  const config::Config& config_;
  NodeView& node_;
};

// Room ids follow the JOIN rule of PROTOCOL.md §2: 1-64 code points, valid UTF-8, no control
// characters.
bool valid_room_id(const std::string& id);

// ISO-8601 UTC with milliseconds, e.g. "2026-11-27T03:04:05.123Z".
std::string iso_time(std::int64_t epoch_ms);

}  // namespace tandem::engine
