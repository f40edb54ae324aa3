#pragma once

// Internal to core/net: an HTTP/1.x response as the bytes sent for it.

#include <string>

#include "core/net/http_types.hpp"

namespace tandem::net {

// The status line, `Server: tandem`, the content type (left out of an empty 204), the response's
// own headers, the connection's persistence as RFC 9112 §9.3 words it for `version` (10 or 11),
// `Content-Length` (except for 1xx, 204 and 304) and the body (not for a HEAD request: the
// length is still that of the body a GET would get), in one buffer: one write, one send.
// A header whose name or value holds CR or LF is left out (no header injection).
//
// Written here rather than with Beast's serializer: the serializer walks its buffer sequence
// (a concatenation of seven) element by element and cost ~5 % of the node's CPU at 4,500
// /status requests a second (docs/performance.md, 2026-12-04); Beast still parses the requests.
std::string serialize_response(const HttpResponse& response, unsigned version, bool keep_alive, bool head);

}  // namespace tandem::net
