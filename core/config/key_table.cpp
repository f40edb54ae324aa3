#include "core/config/key_table.hpp"

#include "core/util/text.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>

namespace tandem::config {

namespace {

using namespace std::chrono_literals;

constexpr std::int64_t KiB = 1024;
constexpr std::int64_t MiB = 1024 * KiB;

constexpr std::string_view kStatusDetails[] = {"caller", "full", "off"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
constexpr std::string_view kLogFormats[] = {"auto", "text", "json"};
constexpr std::string_view kSslModes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};

// libpq's sslmode values, or empty for libpq's own default.
const char* ssl_mode(std::string_view text) {
  if (text.empty() || std::find(std::begin(kSslModes), std::end(kSslModes), text) != std::end(kSslModes)) return nullptr;
  return "expected disable, allow, prefer, require, verify-ca, verify-full or empty";
}

const char* http_url(std::string_view text) {
  if (text.starts_with("http://") || text.starts_with("https://")) return nullptr;
  return "must start with http:// or https://";
}

const char* room_template(std::string_view text) {
  if (text.find("{roomId}") != std::string_view::npos) return nullptr;
  return "must contain {roomId}";
}

// An address ("10.0.0.7", "fd00::1") or a CIDR range ("10.0.0.0/8", "fd00::/8").
const char* ip_address(std::string_view text) {
  constexpr const char* kError = "must be an IPv4 or IPv6 address or CIDR range (e.g. 10.0.0.0/8)";
  const auto slash = text.find('/');
  const std::string s(text.substr(0, slash));
  unsigned char buffer[16];
  int max_prefix = 0;
  if (::inet_pton(AF_INET, s.c_str(), buffer) == 1) {
    max_prefix = 32;
  } else if (::inet_pton(AF_INET6, s.c_str(), buffer) == 1) {
    max_prefix = 128;
  } else {
    return kError;
  }
  if (slash == std::string_view::npos) return nullptr;
  const std::string_view prefix = text.substr(slash + 1);
  if (prefix.empty() || prefix.size() > 3) return kError;
  int bits = 0;
  for (char c : prefix) {
    if (c < '0' || c > '9') return kError;
    bits = bits * 10 + (c - '0');
  }
  return bits <= max_prefix ? nullptr : kError;
}

constexpr SectionSpec kSections[] = {
    section<&Config::server>("server"),     section<&Config::http>("http"),
    section<&Config::limits>("limits"),     section<&Config::rooms>("rooms"),
    section<&Config::security>("security"), section<&Config::log>("log"),
    section<&Config::audit>("audit"),       section<&Config::redis>("redis"),
    section<&Config::postgres>("postgres"), section<&Config::cluster>("cluster"),
};

constexpr KeySpec kKeys[] = {
    // [server]
    key<&Config::server, &Server::host>("server", "host", "Listen address.").required().env("HOST"),
    key<&Config::server, &Server::port>("server", "port", "Listen port.").env("PORT"),
    key<&Config::server, &Server::internal_port>(
        "server", "internal_port",
        "Port for /metrics, /health and /ready alone (then not on server.port); 0 serves them on server.port.")
        .range(0, 65535),
    key<&Config::server, &Server::node_id>(
        "server", "node_id", "Names this node in frames and logs; empty means the hostname.")
        .env("NODE_ID"),
    key<&Config::server, &Server::data_dir>(
        "server", "data_dir", "Embedded mode keeps its SQLite file in this directory.")
        .required(),
    key<&Config::server, &Server::drain_timeout>(
        "server", "drain_timeout", "Deadline from SIGTERM to exit while connections drain.")
        .range(1s, 10min),
    key<&Config::server, &Server::threads>(
        "server", "threads",
        "I/O threads (event loops); 0 means one per CPU this process may use (its affinity mask, lowered to "
        "its cgroup CPU limit).")
        .range(0, 64),
    key<&Config::server, &Server::max_connections>(
        "server", "max_connections", "WebSocket connections accepted by this node.")
        .range(1, 1'000'000),

    // [http]
    key<&Config::http, &Http::public_base_url>(
        "http", "public_base_url", "Base URL of the short room links handed to clients.")
        .checked(&http_url),
    key<&Config::http, &Http::status_detail>(
        "http", "status_detail",
        "Rooms /status lists: caller (those with a member at the asking address), full or off.")
        .one_of(kStatusDetails),
    key<&Config::http, &Http::trusted_proxies>(
        "http", "trusted_proxies",
        "Proxies (IP addresses or CIDR ranges) whose X-Forwarded-For header is believed.")
        .checked(&ip_address),
    key<&Config::http, &Http::redirect_template>(
        "http", "redirect_template", "Target of GET /room/{shortId}; {roomId} becomes the room id.")
        .checked(&room_template),
    key<&Config::http, &Http::max_header_bytes>(
        "http", "max_header_bytes", "Largest HTTP request head in bytes.")
        .range(1 * KiB, 1 * MiB),
    key<&Config::http, &Http::request_timeout>(
        "http", "request_timeout", "Deadline for a whole HTTP request.")
        .range(100ms, 5min),
    key<&Config::http, &Http::keepalive_timeout>(
        "http", "keepalive_timeout", "Idle keep-alive HTTP connections are closed after this.")
        .range(1s, 1h),
    key<&Config::http, &Http::max_conns_per_ip>(
        "http", "max_conns_per_ip",
        "Open HTTP connections (not WebSockets) per client TCP address; trusted proxies are exempt. Beyond: 429.")
        .range(1, 1'000'000),
    key<&Config::http, &Http::max_connections>(
        "http", "max_connections",
        "Open HTTP connections (not WebSockets) on the node; the extension holds one /status connection per viewer. Beyond: 503.")
        .range(1, 1'000'000),

    // [limits]
    key<&Config::limits, &Limits::max_frame_bytes>(
        "limits", "max_frame_bytes", "Largest inbound WebSocket message in bytes.")
        .range(1 * KiB, 16 * MiB),
    key<&Config::limits, &Limits::max_url_bytes>(
        "limits", "max_url_bytes",
        "Longest URL a URL_CHANGE may carry, in bytes; longer ones (and any with control characters) get ERROR bad_field.")
        .range(256, 64 * KiB),
    key<&Config::limits, &Limits::idle_timeout>(
        "limits", "idle_timeout", "A WebSocket that sends no frame and no pong for this long is closed.")
        .range(1ms, 24h),
    key<&Config::limits, &Limits::ping_interval>(
        "limits", "ping_interval", "Interval of WebSocket protocol pings; less than idle_timeout.")
        .range(1ms, 1h),
    key<&Config::limits, &Limits::msgs_per_sec>(
        "limits", "msgs_per_sec", "Messages per second a connection may send (token refill rate).")
        .range(1, 100'000),
    key<&Config::limits, &Limits::msgs_burst>(
        "limits", "msgs_burst", "Messages a connection may send in a burst (token bucket size).")
        .range(1, 1'000'000),
    key<&Config::limits, &Limits::max_conns_per_ip>(
        "limits", "max_conns_per_ip", "WebSocket connections per client address.")
        .range(1, 1'000'000),
    key<&Config::limits, &Limits::max_room_members>(
        "limits", "max_room_members", "Members per room.")
        .range(1, 10'000),
    key<&Config::limits, &Limits::pin_attempts>(
        "limits", "pin_attempts", "Wrong PINs per connection; the last one closes it with 1008.")
        .range(1, 1000),
    key<&Config::limits, &Limits::pin_attempts_per_ip_minute>(
        "limits", "pin_attempts_per_ip_minute",
        "Wrong PINs per client address group (IPv4 address, IPv6 /64) per minute.")
        .range(1, 100'000),
    key<&Config::limits, &Limits::pin_attempts_per_room_minute>(
        "limits", "pin_attempts_per_room_minute",
        "Wrong PINs per room per minute; beyond it only the addresses of the room's members may try.")
        .range(1, 100'000),
    key<&Config::limits, &Limits::stale_after>(
        "limits", "stale_after", "A connection silent this long counts as stale (see strict_identity).")
        .range(1ms, 1h),
    key<&Config::limits, &Limits::relay_bytes_per_sec>(
        "limits", "relay_bytes_per_sec",
        "Bytes of relayed frames (OFFER, ANSWER, ICE_CANDIDATE and other types the server passes on) a connection may send per second, 4 s worth in a burst; beyond: ERROR rate_limited, not relayed.")
        .range(1 * KiB, 64 * MiB),
    key<&Config::limits, &Limits::send_queue_bytes>(
        "limits", "send_queue_bytes",
        "Outbound bytes queued per connection before a slow client is disconnected.")
        .range(4 * KiB, 256 * MiB),
    key<&Config::limits, &Limits::write_timeout>(
        "limits", "write_timeout",
        "A WebSocket whose write has not completed for this long (the peer stopped reading) is torn down.")
        .range(100ms, 10min),
    key<&Config::limits, &Limits::short_ids_per_minute>(
        "limits", "short_ids_per_minute", "New short room ids per client address per minute.")
        .range(1, 100'000),
    key<&Config::limits, &Limits::max_rooms>(
        "limits", "max_rooms",
        "Rooms this node holds (cluster mode: rooms with members on it); a JOIN that would create one more gets ERROR server_busy.")
        .range(1, 10'000'000),
    key<&Config::limits, &Limits::rooms_per_ip_minute>(
        "limits", "rooms_per_ip_minute",
        "Rooms one client address may create per minute, as many in a burst; beyond: ERROR too_many_rooms.")
        .range(1, 100'000),
    key<&Config::limits, &Limits::lookups_per_minute>(
        "limits", "lookups_per_minute",
        "Room lookups (short ids, /room redirects, presence) per client address per minute, as many in a burst. Beyond: 429.")
        .range(1, 100'000),

    // [rooms]
    key<&Config::rooms, &Rooms::host_grace>(
        "rooms", "host_grace", "A disconnected host who re-joins within this keeps the role.")
        .range(1ms, 1h),
    key<&Config::rooms, &Rooms::empty_ttl>(
        "rooms", "empty_ttl", "A room whose members all disconnected keeps its state this long.")
        .range(1ms, 7 * 24h),
    key<&Config::rooms, &Rooms::ready_timeout>(
        "rooms", "ready_timeout", "How long the READY gate waits for its quorum.")
        .range(1ms, 5min),
    key<&Config::rooms, &Rooms::short_id_ttl>(
        "rooms", "short_id_ttl", "A short id whose room never comes to exist expires after this.")
        .range(1ms, 30 * 24h),
    key<&Config::rooms, &Rooms::allowed_url_prefixes>(
        "rooms", "allowed_url_prefixes", "URL_CHANGE accepts only URLs starting with one of these.")
        .checked(&http_url),

    // [security]
    key<&Config::security, &Security::strict_identity>(
        "security", "strict_identity", "Taking over a live, non-stale seat needs its sessionToken."),
    key<&Config::security, &Security::pin_secret>(
        "security", "pin_secret",
        "Server secret mixed into every room PIN's hash, so that a stored hash is useless without it; empty for none. Keep it stable: rooms hashed with it need it.")
        .hidden(),

    // [log]
    key<&Config::log, &Log::level>("log", "level", "Log level: trace, debug, info, warn, error or off.")
        .one_of(kLogLevels)
        .env("LOG_LEVEL"),
    key<&Config::log, &Log::format>(
        "log", "format", "Log format: auto (text on a terminal, JSON otherwise), text or json.")
        .one_of(kLogFormats),

    // [audit]
    key<&Config::audit, &Audit::queue_capacity>(
        "audit", "queue_capacity", "Audit events held in memory before spilling or refusing.")
        .range(1, 10'000'000),
    key<&Config::audit, &Audit::batch_size>(
        "audit", "batch_size", "Audit events per database transaction; at most queue_capacity.")
        .range(1, 100'000),
    key<&Config::audit, &Audit::flush_interval>(
        "audit", "flush_interval", "Longest time an audit event waits before it is written.")
        .range(1ms, 1min),

    // [redis]
    key<&Config::redis, &Redis::host>("redis", "host", "Redis host.").required().env("REDIS_HOST"),
    key<&Config::redis, &Redis::port>("redis", "port", "Redis port.").env("REDIS_PORT"),
    key<&Config::redis, &Redis::password>("redis", "password", "Redis password; empty for none.")
        .hidden()
        .env("REDIS_PASSWORD"),
    key<&Config::redis, &Redis::db>("redis", "db", "Redis database number.")
        .range(0, 1'000'000)
        .env("REDIS_DB"),
    key<&Config::redis, &Redis::key_prefix>("redis", "key_prefix", "Prefix of every Redis key."),
    key<&Config::redis, &Redis::connect_timeout>(
        "redis", "connect_timeout", "Deadline for connecting to Redis.")
        .range(1ms, 5min),

    // [postgres]
    key<&Config::postgres, &Postgres::host>("postgres", "host", "PostgreSQL host.")
        .required()
        .env("POSTGRES_HOST"),
    key<&Config::postgres, &Postgres::port>("postgres", "port", "PostgreSQL port.").env("POSTGRES_PORT"),
    key<&Config::postgres, &Postgres::database>("postgres", "database", "PostgreSQL database name.")
        .required()
        .env("POSTGRES_DB"),
    key<&Config::postgres, &Postgres::user>("postgres", "user", "PostgreSQL user.")
        .required()
        .env("POSTGRES_USER"),
    key<&Config::postgres, &Postgres::password>(
        "postgres", "password", "PostgreSQL password; empty for none.")
        .hidden()
        .env("POSTGRES_PASSWORD"),
    key<&Config::postgres, &Postgres::pool_size>(
        "postgres", "pool_size",
        "Not used: a cluster node holds two PostgreSQL connections (the audit writer and the room lookups); accepted so that existing files load.")
        .range(1, 64)
        .env("POSTGRES_POOL_SIZE"),
    key<&Config::postgres, &Postgres::connect_timeout>(
        "postgres", "connect_timeout", "Deadline for connecting to PostgreSQL.")
        .range(1ms, 5min),
    key<&Config::postgres, &Postgres::sslmode>(
        "postgres", "sslmode",
        "TLS to PostgreSQL (libpq sslmode): disable, allow, prefer, require, verify-ca or verify-full; empty for libpq's default (PGSSLMODE, else prefer).")
        .checked(&ssl_mode),
    key<&Config::postgres, &Postgres::sslrootcert>(
        "postgres", "sslrootcert",
        "CA certificates (PEM file) that verify-ca and verify-full check the server against; empty for libpq's default (PGSSLROOTCERT, else ~/.postgresql/root.crt)."),

    // [cluster]
    key<&Config::cluster, &Cluster::node_ttl>(
        "cluster", "node_ttl", "Other nodes notice a dead node within this.")
        .range(1ms, 1h),
};

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

}  // namespace

std::span<const SectionSpec> sections() { return kSections; }
std::span<const KeySpec> keys() { return kKeys; }

const SectionSpec* find_section(std::string_view name) {
  for (const auto& s : kSections) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const KeySpec* find_key(std::string_view section, std::string_view name) {
  for (const auto& k : kKeys) {
    if (k.section == section && k.name == name) return &k;
  }
  return nullptr;
}

std::size_t index_of(const KeySpec& key) { return static_cast<std::size_t>(&key - std::begin(kKeys)); }

std::string dotted_name(const KeySpec& key) {
  return std::string(key.section) + "." + std::string(key.name);
}

std::string env_name(const KeySpec& key) {
  return "TANDEM_" + upper(key.section) + "_" + upper(key.name);
}

std::string env_prefix(const SectionSpec& section) { return "TANDEM_" + upper(section.name) + "_"; }

std::optional<std::string> closest(std::string_view name, std::span<const std::string> candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (const auto& candidate : candidates) {
    const std::size_t d = util::edit_distance(name, candidate);
    if (d <= 3 && 2 * d <= name.size() && (!best || d < best_distance)) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace tandem::config
