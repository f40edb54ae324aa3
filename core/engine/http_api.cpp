// The HTTP endpoints of PROTOCOL.md §7 and §10, served by the node.
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <ctime>

#include "core/engine/node.hpp"
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

// Room ids follow the JOIN rule (PROTOCOL.md §2): 1-64 code points, valid UTF-8, no control characters.
bool valid_room_id(const std::string& id) {
  return !id.empty() && tandem::util::is_valid_utf8(id) && tandem::util::count_code_points(id) <= 64 &&
         !tandem::util::has_control_chars(id);
}

std::string iso_time(room::Millis ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string encode_component(const std::string& s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

}  // namespace

net::HttpResponse Node::http(const net::HttpRequest& request) {
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
    response = json_response(200, {{"status", "ok"}, {"nodeId", node_id_}});
  } else if (segments.size() == 1 && segments[0] == "ready") {
    const bool ready = ready_.load() && journal_.healthy();
    response = json_response(ready ? 200 : 503, {{"status", ready ? "ready" : "not ready"}, {"nodeId", node_id_}});
  } else if (segments.size() == 1 && segments[0] == "metrics") {
    response = net::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", registry_.render(), {}};
  } else if (segments.size() == 1 && segments[0] == "status") {
    response = http_status(request);
  } else if (segments.size() == 4 && segments[0] == "api" && segments[1] == "rooms" && segments[3] == "presence") {
    response = http_presence(segments[2]);
  } else if (segments.size() == 3 && segments[0] == "api" && segments[1] == "short-id") {
    response = http_short_id(request, segments[2]);
  } else if (segments.size() == 3 && segments[0] == "api" && segments[1] == "room") {
    response = http_room_lookup(segments[2]);
  } else if (is_room_path && (segments.size() == 2 || segments.size() == 3)) {
    response = http_redirect(segments[1], segments.size() == 3 ? segments[2] : std::string());
  } else {
    response = json_response(404, {{"error", "Not found"}});
  }
  if (cors) add_cors(response);
  return response;
}

net::HttpResponse Node::http_status(const net::HttpRequest& request) {
  const auto& mode = config_.http.status_detail;
  if (mode == "off") return json_response(404, {{"error", "Not found"}});
  const double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return net::HttpResponse{200, "application/json",
                           status_.render(mode, request.client_addr, node_id_, iso_time(now_ms()), uptime), {}};
}

net::HttpResponse Node::http_presence(const std::string& room_id) {
  std::size_t count = 0;
  std::shared_ptr<RoomSlot> slot;
  {
    std::lock_guard lock(rooms_mutex_);
    if (auto it = rooms_.find(room_id); it != rooms_.end()) slot = it->second;
  }
  if (slot) {
    std::lock_guard lock(slot->mutex);
    if (!slot->removed) count = slot->state.members.size();
  }
  return json_response(200, {{"roomId", room_id}, {"count", count}});
}

net::HttpResponse Node::http_short_id(const net::HttpRequest& request, const std::string& room_id) {
  if (!valid_room_id(room_id)) return json_response(400, {{"error", "invalid room id"}});
  auto result = short_ids_.get_or_mint(room_id, request.client_addr, now_ms());
  if (result.rate_limited) return json_response(429, {{"error", "Too many short ids; try again in a minute"}});
  if (result.minted) journal_.put_short_id(*result.minted);
  return json_response(200, {{"shortId", result.short_id},
                             {"roomId", room_id},
                             {"shortUrl", config_.http.public_base_url + "/room/" + result.short_id}});
}

net::HttpResponse Node::http_room_lookup(const std::string& short_id) {
  auto room_id = short_ids_.room_for(short_id, now_ms());
  if (!room_id) return json_response(404, {{"error", "Room not found"}});
  return json_response(200, {{"roomId", *room_id}, {"shortId", short_id}});
}

net::HttpResponse Node::http_redirect(const std::string& short_id, const std::string& pin) {
  auto room_id = short_ids_.room_for(short_id, now_ms());
  if (!room_id) return text_response(404, "Room not found");
  std::string location = config_.http.redirect_template;
  const std::string placeholder = "{roomId}";
  if (auto pos = location.find(placeholder); pos != std::string::npos) {
    location.replace(pos, placeholder.size(), encode_component(*room_id));
  }
  if (!pin.empty()) location += (location.find('?') == std::string::npos ? "?pin=" : "&pin=") + encode_component(pin);
  net::HttpResponse r{302, "text/plain; charset=utf-8", "Found", {}};
  r.headers.emplace_back("Location", location);
  return r;
}

}  // namespace tandem::engine
