#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tandem::net {

struct HttpRequest {
  std::string method;       // "GET", "HEAD", "OPTIONS", …
  std::string target;       // the raw request-target, e.g. "/api/room/abc?x=1"
  std::string client_addr;  // peer, or the last untrusted X-Forwarded-For hop behind a trusted proxy
  bool internal = false;    // arrived on the internal listener (ServerOptions::internal_port)
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Names the endpoint that answered, for tandem_http_requests_total{handler} (a small fixed set:
  // never anything taken from the request).
  std::string handler = "unknown";
};

}  // namespace tandem::net
