// The HTTP endpoints of PROTOCOL.md §7 and §10, served by the node.
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <ctime>

#include "core/engine/http_api.hpp"
#include "core/util/text.hpp"

namespace tandem::engine {

namespace {

net::HttpResponse json_response(unsigned status, const boost::json::object& body) {
  return net::HttpResponse{status, "application/json", boost::json::serialize(body), {}};
}

net::HttpResponse text_response(unsigned status, std::string body) {
  return net::HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}};
}

void add_cors(net::HttpResponse& r) {
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  r.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
  r.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type");
  r.headers.emplace_back("Access-Control-Expose-Headers", "Location");
}

std::string encode_component(const std::string& s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

}  // namespace

bool valid_room_id(const std::string& id) {
  return !id.empty() && tandem::util::is_valid_utf8(id) && tandem::util::count_code_points(id) <= 64 &&
         !tandem::util::has_control_chars(id);
}

std::string iso_time(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

namespace {

net::HttpResponse status_response(const config::Config& config, NodeView& node, const net::HttpRequest& request) {
  const auto& mode = config.http.status_detail;
  if (mode == "off") return json_response(404, {{"error", "Not found"}});
  return net::HttpResponse{200, "application/json", node.status_json(mode, request.client_addr), {}};
}

net::HttpResponse presence_response(NodeView& node, const std::string& room_id) {
  if (!valid_room_id(room_id)) return json_response(400, {{"error", "invalid room id"}});
  return json_response(200, {{"roomId", room_id}, {"count", node.presence(room_id)}});
}

net::HttpResponse short_id_response(const config::Config& config, NodeView& node, const net::HttpRequest& request,
                                    const std::string& room_id) {
  if (!valid_room_id(room_id)) return json_response(400, {{"error", "invalid room id"}});
  auto result = node.short_id(room_id, request.client_addr);
  if (result.rate_limited) return json_response(429, {{"error", "Too many short ids; try again in a minute"}});
  // A cluster node whose Redis is unreachable has no short id to give.
  if (result.short_id.empty()) return json_response(503, {{"error", "Service unavailable; try again"}});
  return json_response(200, {{"shortId", result.short_id},
                             {"roomId", room_id},
                             {"shortUrl", config.http.public_base_url + "/room/" + result.short_id}});
}

net::HttpResponse room_lookup_response(NodeView& node, const std::string& short_id) {
  auto room_id = node.room_for_short_id(short_id);
  if (!room_id) return json_response(404, {{"error", "Room not found"}});
  return json_response(200, {{"roomId", *room_id}, {"shortId", short_id}});
}

net::HttpResponse redirect_response(const config::Config& config, NodeView& node, const std::string& short_id,
                                    const std::string& pin) {
  auto room_id = node.room_for_short_id(short_id);
  if (!room_id) return text_response(404, "Room not found");
  std::string location = config.http.redirect_template;
  const std::string placeholder = "{roomId}";
  if (auto pos = location.find(placeholder); pos != std::string::npos) {
    location.replace(pos, placeholder.size(), encode_component(*room_id));
  }
  if (!pin.empty()) location += (location.find('?') == std::string::npos ? "?pin=" : "&pin=") + encode_component(pin);
  net::HttpResponse r{302, "text/plain; charset=utf-8", "Found", {}};
  r.headers.emplace_back("Location", location);
  return r;
}

}  // namespace

net::HttpResponse HttpApi::handle(const net::HttpRequest& request) {
  const bool options = request.method == "OPTIONS";
  if (request.method != "GET" && request.method != "HEAD" && !options) {
    auto r = text_response(405, "Method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD, OPTIONS");
    return r;
  }
  auto parsed = boost::urls::parse_origin_form(request.target);
  if (!parsed) {
    auto r = json_response(400, {{"error", "malformed URL"}});
    add_cors(r);
    return r;
  }
  std::vector<std::string> segments;
  for (auto segment : parsed->segments()) segments.push_back(segment);
  // "/room/abc/" tolerates one trailing slash.
  const bool is_room_path = !segments.empty() && segments.front() == "room";
  if (is_room_path && segments.size() > 2 && segments.back().empty()) segments.pop_back();

  const bool cors = (!segments.empty() && (segments.front() == "api" || segments.front() == "room" ||
                                           (segments.size() == 1 && segments.front() == "status")));
  net::HttpResponse response;
  if (options) {
    response = net::HttpResponse{204, "", "", {}};
  } else if (segments.size() == 1 && segments[0] == "health") {
    response = json_response(200, {{"status", "ok"}, {"nodeId", node_.node_id()}});
  } else if (segments.size() == 1 && segments[0] == "ready") {
    const bool ready = node_.ready();
    response = json_response(ready ? 200 : 503, {{"status", ready ? "ready" : "not ready"}, {"nodeId", node_.node_id()}});
  } else if (segments.size() == 1 && segments[0] == "metrics") {
    response = net::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", node_.metrics_text(), {}};
  } else if (segments.size() == 1 && segments[0] == "status") {
    response = status_response(config_, node_, request);
  } else if (segments.size() == 4 && segments[0] == "api" && segments[1] == "rooms" && segments[3] == "presence") {
    response = presence_response(node_, segments[2]);
  } else if (segments.size() == 3 && segments[0] == "api" && segments[1] == "short-id") {
    response = short_id_response(config_, node_, request, segments[2]);
  } else if (segments.size() == 3 && segments[0] == "api" && segments[1] == "room") {
    response = room_lookup_response(node_, segments[2]);
  } else if (is_room_path && (segments.size() == 2 || segments.size() == 3)) {
    response = redirect_response(config_, node_, segments[1], segments.size() == 3 ? segments[2] : std::string());
  } else {
    response = json_response(404, {{"error", "Not found"}});
  }
  if (cors) add_cors(response);
  return response;
}

}  // namespace tandem::engine
