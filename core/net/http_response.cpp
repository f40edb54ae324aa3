#include "core/net/http_response.hpp"

#include <boost/beast/http/status.hpp>

#include <string_view>

namespace tandem::net {

namespace {

bool clean(std::string_view text) { return text.find_first_of("\r\n") == std::string_view::npos; }

void field(std::string& out, std::string_view name, std::string_view value) {
  if (!clean(name) || !clean(value)) return;
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

}  // namespace

std::string serialize_response(const HttpResponse& r, unsigned version, bool keep_alive, bool head) {
  const auto status = static_cast<boost::beast::http::status>(r.status);
  const bool bodiless_status = (r.status >= 100 && r.status < 200) || r.status == 204 || r.status == 304;
  std::string out;
  out.reserve(160 + r.body.size());
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += boost::beast::http::obsolete_reason(status);
  out += "\r\n";
  field(out, "Server", "tandem");
  if (!r.content_type.empty() && (!r.body.empty() || r.status != 204)) field(out, "Content-Type", r.content_type);
  for (const auto& [name, value] : r.headers) field(out, name, value);
  if (version == 10 && keep_alive) field(out, "Connection", "keep-alive");
  if (version != 10 && !keep_alive) field(out, "Connection", "close");
  if (!bodiless_status) field(out, "Content-Length", std::to_string(r.body.size()));
  out += "\r\n";
  if (!head && !bodiless_status) out += r.body;
  return out;
}

}  // namespace tandem::net
