#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tandem::config {

using Duration = std::chrono::milliseconds;

// Every key below has: a TOML key `[section] key`, an environment name TANDEM_<SECTION>_<KEY>
// (upper case), a default shown in tandem.toml.example, and a validated range.

struct Server {
  std::string host = "0.0.0.0";              // listen address
  std::uint16_t port = 4001;                  // listen port (1-65535)
  std::uint16_t internal_port = 0;            // /metrics, /health, /ready only here; 0 = on `port`
  std::string node_id;                        // empty = hostname; names this node in frames/logs
  std::string data_dir = "./data";            // embedded mode: SQLite file lives here
  Duration drain_timeout = std::chrono::seconds(25);  // SIGTERM -> exit deadline (1s-10m)
  int threads = 0;                            // I/O threads; 0 = hardware threads (0-64)
  std::int64_t max_connections = 19000;       // WebSocket connections per node (1-1000000)
  bool operator==(const Server&) const = default;
};

struct Http {
  std::string public_base_url = "http://localhost:4001";  // base of shortUrl
  std::string status_detail = "caller";                   // caller | full | off
  std::vector<std::string> trusted_proxies;               // IPs whose X-Forwarded-For is believed
  std::string redirect_template = "https://www.netflix.com/?tandemRoom={roomId}";  // /room/{id}
  std::int64_t max_header_bytes = 8192;                   // request head limit (1 KiB-1 MiB)
  Duration request_timeout = std::chrono::seconds(10);    // whole request deadline (100ms-5m)
  Duration keepalive_timeout = std::chrono::seconds(60);  // idle keep-alive connection (1s-1h)
  std::int64_t max_conns_per_ip = 128;   // open plain HTTP connections per TCP peer (proxies exempt)
  // Open plain HTTP connections on the node: the extension keeps one /status keep-alive connection
  // per viewer, so as many as WebSockets (server.max_connections).
  std::int64_t max_connections = 19000;
  bool operator==(const Http&) const = default;
};

struct Limits {
  std::int64_t max_frame_bytes = 65536;      // inbound WebSocket message (1 KiB-16 MiB)
  std::int64_t max_url_bytes = 4096;         // URL_CHANGE url (256 B-64 KiB)
  Duration idle_timeout = std::chrono::seconds(60);
  Duration ping_interval = std::chrono::seconds(20);
  std::int64_t msgs_per_sec = 50;            // token refill rate (1-100000)
  std::int64_t msgs_burst = 200;             // bucket size (1-1000000)
  std::int64_t max_conns_per_ip = 256;       // WebSocket connections per client address
  std::int64_t max_room_members = 50;
  std::int64_t pin_attempts = 5;             // per connection, then close 1008
  std::int64_t pin_attempts_per_ip_minute = 20;
  std::int64_t pin_attempts_per_room_minute = 30;
  Duration stale_after = std::chrono::seconds(20);
  std::int64_t relay_bytes_per_sec = 65536;  // relayed (client-written) frame bytes per connection
  std::int64_t send_queue_bytes = 1 << 20;   // per-connection outbound bound (4 KiB-256 MiB)
  Duration write_timeout = std::chrono::seconds(15);  // a write pending this long: the peer is gone
  std::int64_t short_ids_per_minute = 30;    // newly minted short ids per client address
  std::int64_t max_rooms = 50000;            // rooms a node holds (cluster: with members on it)
  std::int64_t rooms_per_ip_minute = 20;     // rooms one client address may create a minute (burst as many)
  std::int64_t lookups_per_minute = 120;     // room lookups over HTTP per client address (burst as many)
  bool operator==(const Limits&) const = default;
};

struct Rooms {
  Duration host_grace = std::chrono::seconds(15);
  Duration empty_ttl = std::chrono::minutes(10);
  Duration ready_timeout = std::chrono::seconds(7);
  Duration short_id_ttl = std::chrono::hours(4);
  std::vector<std::string> allowed_url_prefixes = {"https://www.netflix.com/"};
  bool operator==(const Rooms&) const = default;
};

struct Security {
  bool strict_identity = false;
  std::string pin_secret;  // secret: the PIN hashes' pepper; empty for none
  bool operator==(const Security&) const = default;
};

struct Log {
  std::string level = "info";   // trace | debug | info | warn | error | off
  std::string format = "auto";  // auto (text on a terminal, else json) | text | json
  bool operator==(const Log&) const = default;
};

struct Audit {
  std::int64_t queue_capacity = 100000;  // events held in memory before spilling / refusing
  std::int64_t batch_size = 500;         // events per database transaction
  Duration flush_interval = std::chrono::milliseconds(200);
  bool operator==(const Audit&) const = default;
};

// Present (std::optional engaged) when the file has a [redis] table or any REDIS_* /
// TANDEM_REDIS_* variable is set. Redis + PostgreSQL together select cluster mode.
struct Redis {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string password;  // secret: never logged
  std::int64_t db = 0;
  std::string key_prefix = "tandem:";
  Duration connect_timeout = std::chrono::seconds(5);
  bool operator==(const Redis&) const = default;
};

struct Postgres {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5432;
  std::string database = "tandem";
  std::string user = "tandem";
  std::string password;  // secret: never logged
  std::int64_t pool_size = 4;  // not used (kept so that existing files load)
  Duration connect_timeout = std::chrono::seconds(5);
  std::string sslmode;      // libpq sslmode; "" = libpq's own default (PGSSLMODE, else prefer)
  std::string sslrootcert;  // CA bundle for verify-ca / verify-full; "" = libpq's default
  bool operator==(const Postgres&) const = default;
};

struct Cluster {
  Duration node_ttl = std::chrono::seconds(10);
  bool operator==(const Cluster&) const = default;
};

struct Config {
  Server server;
  Http http;
  Limits limits;
  Rooms rooms;
  Security security;
  Log log;
  Audit audit;
  std::optional<Redis> redis;
  std::optional<Postgres> postgres;
  Cluster cluster;
  bool operator==(const Config&) const = default;
};

// Where configuration comes from; later sources win: file, then environment, then overrides.
struct Sources {
  // The TOML file. When `file_required` is false a missing file is not an error (the default
  // ./tandem.toml); an explicit --config that does not exist is.
  std::optional<std::filesystem::path> file;
  bool file_required = false;
  // Environment variables (production passes the process environment; tests pass a map).
  std::map<std::string, std::string> env;
  // Command-line settings as ("section.key", "value") in order, e.g. ("server.port", "4002").
  std::vector<std::pair<std::string, std::string>> overrides;
};

// A configuration that cannot be used. what() is one line: "file:line: section.key: reason" for
// file errors, "env NAME: reason" / "flag section.key: reason" otherwise. Never contains a
// password value.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads, merges and validates. Throws ConfigError.
Config load(const Sources& sources);

// The process environment as a map.
std::map<std::string, std::string> process_environment();

// A TOML rendering of `config` with secrets replaced by "***" (for logs).
std::string to_redacted_toml(const Config& config);

// The configuration `sources` make, as TOML with secrets replaced by "***" and every key followed
// by where its value came from ("# default", "# tandem.toml:12", "# env TANDEM_SERVER_PORT",
// "# flag"): `tandem serve --print-config`. Throws ConfigError as load() does.
std::string effective_config(const Sources& sources);

}  // namespace tandem::config
