// The HTTP endpoints of docs/protocol.md §7 and §10, served by the node.
#include <boost/json/serialize.hpp>
#include <ctime>

#include <fmt/format.h>

#include "core/node/http_api.hpp"

#include "core/config/config.hpp"
#include "core/metrics/metrics.hpp"
#include "core/node/route.hpp"
#include "core/node/status_document.hpp"
#include "core/util/address_group.hpp"
#include "core/util/duration.hpp"

namespace tandem::node {

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

}  // namespace

std::string iso_time(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  // fmt, not snprintf: every /status request formats one (thousands a second under load).
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

namespace {

using Respond = net::Handler::Respond;

using util::epoch_ms;

// Client address groups the lookup limiter tracks at most (~100 bytes each); see util::KeyedLimiter.
constexpr std::size_t kLookupAddresses = 100'000;

// Names the answer after the endpoint (tandem_http_requests_total{handler}), adds the CORS
// headers when `cors`, then responds.
Respond finishing(Respond respond, bool cors, std::string_view handler) {
  return [respond = std::move(respond), cors, handler](net::HttpResponse r) {
    r.handler = handler;
    if (cors) add_cors(r);
    respond(std::move(r));
  };
}

void presence(engine::Engine& engine, const std::string& room_id, Respond respond) {
  if (!valid_room_id(room_id)) return respond(json_response(400, {{"error", "invalid room id"}}));
  engine.presence(room_id, [room_id, respond = std::move(respond)](std::optional<std::size_t> count) {
    if (!count) return respond(json_response(503, {{"error", "Service unavailable; try again"}}));
    respond(json_response(200, {{"roomId", room_id}, {"count", *count}}));
  });
}

void short_id(const config::Config& config, engine::Engine& engine, const net::HttpRequest& request,
              const std::string& room_id, Respond respond) {
  if (!valid_room_id(room_id)) return respond(json_response(400, {{"error", "invalid room id"}}));
  engine.short_id(room_id, request.client_addr,
                  [&config, room_id, respond = std::move(respond)](engine::ShortIdResult result) {
                    if (result.rate_limited) {
                      return respond(json_response(429, {{"error", "Too many short ids; try again in a minute"}}));
                    }
                    // A cluster node whose Redis is unreachable has no short id to give.
                    if (result.short_id.empty()) {
                      return respond(json_response(503, {{"error", "Service unavailable; try again"}}));
                    }
                    respond(json_response(200, {{"shortId", result.short_id},
                                                {"roomId", room_id},
                                                {"shortUrl", config.http.public_base_url + "/room/" + result.short_id}}));
                  });
}

void room_lookup(engine::Engine& engine, const std::string& short_id, Respond respond) {
  engine.room_for_short_id(short_id, [short_id, respond = std::move(respond)](std::optional<std::string> room_id) {
    if (!room_id) return respond(json_response(404, {{"error", "Room not found"}}));
    respond(json_response(200, {{"roomId", *room_id}, {"shortId", short_id}}));
  });
}

void redirect(const config::Config& config, engine::Engine& engine, const std::string& short_id,
              const std::string& pin, Respond respond) {
  engine.room_for_short_id(short_id, [&config, pin, respond = std::move(respond)](std::optional<std::string> room_id) {
    if (!room_id) return respond(text_response(404, "Room not found"));
    net::HttpResponse r{302, "text/plain; charset=utf-8", "Found", {}};
    r.headers.emplace_back("Location", redirect_location(config.http.redirect_template, *room_id, pin));
    respond(std::move(r));
  });
}

}  // namespace

HttpApi::HttpApi(const config::Config& config, engine::Engine& engine, metrics::Registry& registry, NodeState node)
    : config_(config),
      engine_(engine),
      registry_(registry),
      node_(std::move(node)),
      started_(std::chrono::steady_clock::now()),
      lookups_(static_cast<double>(config.limits.lookups_per_minute), static_cast<double>(config.limits.lookups_per_minute),
               kLookupAddresses) {}

void HttpApi::handle(const net::HttpRequest& request, Respond respond) {
  const bool options = request.method == "OPTIONS";
  if (request.method != "GET" && request.method != "HEAD" && !options) {
    auto r = text_response(405, "Method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD, OPTIONS");
    r.handler = "invalid";
    return respond(std::move(r));
  }
  const std::optional<Route> target = route(request.target);
  if (!target) {
    auto r = json_response(400, {{"error", "malformed URL"}});
    add_cors(r);
    r.handler = "invalid";
    return respond(std::move(r));
  }
  const std::vector<std::string>& segments = target->segments;
  const std::string_view handler = target->handler;
  Respond done = finishing(std::move(respond), target->cors, handler);
  // With server.internal_port the operators' endpoints are served there, and only they are: the
  // public port (the one an ingress publishes) answers neither metrics nor probes.
  const bool operator_path = handler == "health" || handler == "ready" || handler == "metrics";
  if (config_.server.internal_port != 0 && operator_path != request.internal) {
    return done(json_response(404, {{"error", "Not found"}}));
  }
  if (options) return done(net::HttpResponse{204, "", "", {}});
  if (handler == "health") {
    return done(json_response(200, {{"status", "ok"}, {"nodeId", config_.server.node_id}}));
  }
  if (handler == "ready") {
    const bool ready = node_.ready();
    return done(json_response(ready ? 200 : 503,
                              {{"status", ready ? "ready" : "not ready"}, {"nodeId", config_.server.node_id}}));
  }
  if (handler == "metrics") {
    return done(net::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", registry_.render(), {}});
  }
  if (handler == "status") {
    const auto& mode = config_.http.status_detail;
    if (mode == "off") return done(json_response(404, {{"error", "Not found"}}));
    const StatusContext context{config_.server.node_id, iso_time(epoch_ms()), node_.local_connections(),
                                std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()};
    return done(net::HttpResponse{200, "application/json",
                                  render_status(*engine_.status_rooms(), mode, request.client_addr, context), {}});
  }
  const bool lookup = handler == "presence" || handler == "short_id" || handler == "room_lookup" || handler == "redirect";
  if (lookup && !lookups_.try_take(util::address_group(request.client_addr))) {
    // One token comes back every 60 / lookups_per_minute seconds.
    const auto retry = (60 + config_.limits.lookups_per_minute - 1) / config_.limits.lookups_per_minute;
    auto r = handler == "redirect" ? text_response(429, "Too many requests; try again later")
                                   : json_response(429, {{"error", "Too many requests; try again later"}});
    r.headers.emplace_back("Retry-After", std::to_string(retry));
    return done(std::move(r));
  }
  if (handler == "presence") return presence(engine_, segments[2], std::move(done));
  if (handler == "short_id") return short_id(config_, engine_, request, segments[2], std::move(done));
  if (handler == "room_lookup") return room_lookup(engine_, segments[2], std::move(done));
  if (handler == "redirect") {
    return redirect(config_, engine_, segments[1], segments.size() == 3 ? segments[2] : std::string(), std::move(done));
  }
  done(json_response(404, {{"error", "Not found"}}));
}

}  // namespace tandem::node
