#pragma once

// The nodes a run loads: `--url ws://HOST:PORT/ws`, parsed (Boost.URL), resolved once, and probed
// before any client starts so that a wrong URL fails in seconds with a clear message.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/net/client_endpoint.hpp"

namespace tandem::loadtest {

struct Target {
  std::string url;          // as given
  std::string host;         // as written in the URL
  net::ClientEndpoint ws;   // address filled by resolve(); target = path (and query)
  std::string status_path;  // "/status" on the same node
};

// Accepts ws://HOST[:PORT][/PATH[?QUERY]] (port 80 when absent; path /ws when absent).
// Returns the reason when it is not such a URL (a usage error).
std::variant<Target, std::string> parse_target(std::string_view url);

// Resolves the host name (blocking). Returns the reason on failure (a runtime error).
std::optional<std::string> resolve(Target& target);

// Opens one WebSocket to `target` (from `source` when not empty) and closes it again. Returns the
// reason when that fails: unreachable, refused, timed out, or not a WebSocket endpoint.
std::optional<std::string> probe(const Target& target, const std::string& source, std::chrono::milliseconds timeout);

}  // namespace tandem::loadtest
