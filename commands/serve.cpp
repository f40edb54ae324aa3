#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <utility>

#include "commands/command.hpp"
#include "commands/common.hpp"
#include "core/engine/memory/memory_engine.hpp"
#include "core/engine/redis/redis_engine.hpp"
#include "core/metrics/metrics.hpp"
#include "core/net/server.hpp"
#include "core/node/node.hpp"
#include "core/proto/error_code.hpp"
#include "core/store/schema.hpp"
#include "core/store/sqlite_journal.hpp"
#include "core/util/usable_cpus.hpp"
#include "core/util/version.hpp"

namespace tandem::commands {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::uint16_t kCloseServiceRestart = 1012;
// Part of drain_timeout kept for flushing the audit journal after the clients are gone.
constexpr auto kFlushShare = 0.4;

struct ServeOptions {
  CommonOptions common;
  std::string host;
  int port = 0;
  std::string node_id;
  std::string data_dir;
  bool check_config = false;
  bool print_config = false;
};

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "tandem";
  return buf;
}

// server.threads: one event loop per thread (net::ServerOptions::loops); 0 = one per CPU this
// process may use (its affinity mask, lowered to its cgroup CPU limit). This thread runs the
// first loop, which also carries the engine's timers and signals. Returns the count and, for the
// start-up line, where it came from.
std::pair<unsigned, std::string> io_threads(const config::Config& c) {
  if (c.server.threads > 0) return {static_cast<unsigned>(c.server.threads), "server.threads"};
  const auto cpus = util::usable_cpus();
  return {cpus.count, "server.threads = 0: " + cpus.describe()};
}

net::ServerOptions server_options(const config::Config& c, unsigned loops) {
  net::ServerOptions o;
  o.host = c.server.host;
  o.port = c.server.port;
  o.internal_port = c.server.internal_port;
  o.trusted_proxies = c.http.trusted_proxies;
  o.max_header_bytes = static_cast<std::size_t>(c.http.max_header_bytes);
  o.request_timeout = c.http.request_timeout;
  o.keepalive_timeout = c.http.keepalive_timeout;
  o.max_frame_bytes = static_cast<std::size_t>(c.limits.max_frame_bytes);
  o.idle_timeout = c.limits.idle_timeout;
  o.ping_interval = c.limits.ping_interval;
  o.msgs_per_sec = static_cast<double>(c.limits.msgs_per_sec);
  o.msgs_burst = static_cast<double>(c.limits.msgs_burst);
  o.max_conns_per_ip = static_cast<std::size_t>(c.limits.max_conns_per_ip);
  o.max_connections = static_cast<std::size_t>(c.server.max_connections);
  o.max_http_conns_per_ip = static_cast<std::size_t>(c.http.max_conns_per_ip);
  o.max_http_connections = static_cast<std::size_t>(c.http.max_connections);
  o.send_queue_bytes = static_cast<std::size_t>(c.limits.send_queue_bytes);
  o.write_timeout = c.limits.write_timeout;
  o.rate_limited_notice = proto::error_frame(proto::ErrorCode::rate_limited);
  o.loops = loops;
  return o;
}

// What every node exports besides the node's and engine's own metrics: the process, the build and
// the configured limits (so that alerts can say "80 % of the limit" without hard-coding it).
void register_node_metrics(metrics::Registry& registry, const config::Config& c, const std::string& mode,
                           unsigned loops) {
  metrics::register_process_metrics(registry);
  registry.info("tandem_build_info", "Always 1; the labels name the build and the engine",
                {{"version", util::version()}, {"commit", util::git_commit()}, {"mode", mode}});
  const auto limit = [&registry](const std::string& name, const std::string& help, double value) {
    registry.gauge_fn(name, help, [value] { return value; });
  };
  limit("tandem_event_loops", "Event loops (I/O threads) this node runs: server.threads, or the CPUs it may use",
        static_cast<double>(loops));
  limit("tandem_max_connections", "server.max_connections: WebSocket connections this node accepts",
        static_cast<double>(c.server.max_connections));
  limit("tandem_max_connections_per_address", "limits.max_conns_per_ip: WebSocket connections per client address",
        static_cast<double>(c.limits.max_conns_per_ip));
  limit("tandem_max_http_connections", "http.max_connections: plain HTTP connections this node holds",
        static_cast<double>(c.http.max_connections));
  limit("tandem_max_rooms", "limits.max_rooms: rooms this node holds (cluster mode: with members on it)",
        static_cast<double>(c.limits.max_rooms));
  limit("tandem_send_queue_limit_bytes", "limits.send_queue_bytes: a connection's send queue beyond which it is closed",
        static_cast<double>(c.limits.send_queue_bytes));
  limit("tandem_audit_queue_capacity", "audit.queue_capacity: audit events that may wait for the database",
        static_cast<double>(c.audit.queue_capacity));
}

// Fails with a one-line reason when the data directory cannot hold the database.
void prepare_data_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("data dir " + dir.string() + ": cannot create: " + ec.message());
  const auto probe = dir / ".tandem-write-probe";
  {
    std::ofstream out(probe);
    if (!out || !(out << "ok") || !out.flush()) {
      throw std::runtime_error("data dir " + dir.string() + ": not writable");
    }
  }
  std::filesystem::remove(probe, ec);
}

// The engine, chosen here and only here from the configuration: Redis and PostgreSQL configured
// make a cluster node, neither an embedded one (rooms in memory, the journal in SQLite).
struct Backend {
  std::unique_ptr<engine::Journal> journal;  // embedded only; outlives the engine
  std::unique_ptr<engine::Engine> engine;
  std::string mode;  // for the start-up line
};

Backend make_backend(const config::Config& config, asio::io_context& io, metrics::Registry& registry) {
  Backend backend;
  if (config.redis && config.postgres) {
    backend.engine = std::make_unique<engine::redis::RedisEngine>(config, registry, &io);
    backend.mode = "cluster mode as " + backend.engine->instance();
    return backend;
  }
  const std::filesystem::path data_dir = config.server.data_dir;
  prepare_data_dir(data_dir);
  const auto db_file = store::sqlite_path(config);
  store::ensure_sqlite_schema(db_file);
  // The cluster engine registers the same family for its backends (redis, postgres, envelope).
  auto& write_errors = registry.counter_family("tandem_backend_errors_total", "Backend failures, by backend", {"backend"})
                           .with("sqlite");
  // The cluster engine registers the same family for its store (postgres).
  auto& dead_letters = registry.counter_family("tandem_dead_letters_total", "Records a database refused as data, set aside",
                                               {"store"})
                           .with("sqlite");
  backend.journal = std::make_unique<store::SqliteJournal>(
      db_file,
      store::SqliteJournalOptions{static_cast<std::size_t>(config.audit.queue_capacity),
                                  static_cast<std::size_t>(config.audit.batch_size), config.audit.flush_interval,
                                  config.server.node_id},
      write_errors, dead_letters);
  engine::memory::MemoryEngineOptions options;
  options.node_id = config.server.node_id;
  options.settings = engine::room_settings(config);
  options.short_id_ttl = config.rooms.short_id_ttl.count();
  options.short_ids_per_minute = static_cast<std::size_t>(config.limits.short_ids_per_minute);
  options.pin_attempts_per_ip_minute = static_cast<std::size_t>(config.limits.pin_attempts_per_ip_minute);
  options.max_rooms = static_cast<std::size_t>(config.limits.max_rooms);
  options.rooms_per_ip_minute = static_cast<std::size_t>(config.limits.rooms_per_ip_minute);
  backend.engine = std::make_unique<engine::memory::MemoryEngine>(io, std::move(options), *backend.journal, registry);
  backend.mode = "embedded mode, data " + db_file.string();
  return backend;
}

// Runs `io` (the first of the server.threads event loops; net::Server runs the others) until a
// drain has finished. The first SIGINT/SIGTERM turns
// readiness off, stops accepting, closes every WebSocket with 1012 and waits — at most
// (1 − kFlushShare) × server.drain_timeout — until the connections are gone and the node is
// idle (every disconnect applied); then the loop stops. A second signal exits at once.
void run_until_drained(asio::io_context& io, net::Server& server, node::Node& node, const config::Config& config,
                       const std::string& started_line) {
  std::atomic<bool> draining{false};
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void()> arm;
  arm = [&] {
    signals.async_wait([&](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (draining.exchange(true)) {
        spdlog::warn("second signal ({}): exiting at once", signal);
        std::_Exit(1);
      }
      spdlog::info("signal {}: draining (timeout {}s)", signal, config.server.drain_timeout.count() / 1000.0);
      // Not accepting before not ready: whoever sees /ready answer 503 finds the port closed.
      server.stop_accepting();
      node.begin_drain();
      server.close_all(kCloseServiceRestart, "service restart");
      arm();
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            const auto deadline = std::chrono::steady_clock::now() +
                                  std::chrono::duration_cast<std::chrono::milliseconds>(
                                      config.server.drain_timeout * (1.0 - kFlushShare));
            asio::steady_timer timer(io);
            while ((server.websocket_count() > 0 || !node.idle()) && std::chrono::steady_clock::now() < deadline) {
              timer.expires_after(50ms);
              co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            io.stop();
          },
          asio::detached);
    });
  };
  arm();

  spdlog::info("{}", started_line);
  io.run();
}

int run_serve(ServeOptions& options) {
  if (!options.host.empty()) options.common.flag_settings.emplace_back("server.host", options.host);
  if (options.port != 0) options.common.flag_settings.emplace_back("server.port", std::to_string(options.port));
  if (!options.node_id.empty()) options.common.flag_settings.emplace_back("server.node_id", options.node_id);
  if (!options.data_dir.empty()) options.common.flag_settings.emplace_back("server.data_dir", options.data_dir);
  if (options.print_config) {
    std::cout << config::effective_config(config_sources(options.common));
    return kExitOk;
  }
  config::Config config = load_config_and_logging(options.common);
  if (options.check_config) {
    std::cout << "configuration OK (" << (config.redis && config.postgres ? "cluster" : "embedded") << " mode)\n";
    return kExitOk;
  }
  if (config.server.node_id.empty()) config.server.node_id = hostname();
  if (static_cast<bool>(config.redis) != static_cast<bool>(config.postgres)) {
    spdlog::error("cluster mode needs both [redis] and [postgres] ({} is missing); remove the other to run the "
                  "embedded node", config.redis ? "[postgres]" : "[redis]");
    return kExitUsage;
  }

  // This thread's affinity mask: every thread the node starts inherits it.
  const auto [loops, loops_from] = io_threads(config);
  metrics::Registry registry;
  asio::io_context io;
  Backend backend = make_backend(config, io, registry);
  node::Node node(config, *backend.engine, registry);
  register_node_metrics(registry, config, config.redis ? "cluster" : "embedded", loops);
  net::Server server(io, server_options(config, loops), node, registry);
  server.start();  // throws "cannot listen on …" (port in use)
  node.start();

  const std::string internal =
      server.internal_port() == 0 ? "" : fmt::format(", /metrics /health /ready on port {}", server.internal_port());
  run_until_drained(io, server, node, config,
                    fmt::format("tandem serve: node {} listening on {}:{}{} ({}, {} I/O thread{}; {})",
                                config.server.node_id, config.server.host, server.port(), internal, backend.mode,
                                loops, loops == 1 ? "" : "s", loops_from));

  // What must outlive the process: the embedded journal is flushed; a cluster node lets its
  // audit copier finish and leaves the cluster (the audit trail itself waits in Redis).
  const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(config.server.drain_timeout * kFlushShare);
  if (!backend.engine->stop(budget)) return kExitRuntime;
  spdlog::info("drained; exiting");
  return kExitOk;
}

}  // namespace

Runner add_serve(CLI::App& sub) {
  auto options = std::make_shared<ServeOptions>();
  add_common_options(sub, options->common);
  sub.add_option("--host", options->host, "Listen address (server.host, default 0.0.0.0)");
  sub.add_option("-p,--port", options->port, "Listen port (server.port, default 4001)")->check(CLI::Range(1, 65535));
  sub.add_option("--node-id", options->node_id, "Name of this node in frames and logs (server.node_id; default hostname)");
  sub.add_option("--data-dir", options->data_dir, "Directory of the embedded SQLite database (server.data_dir)");
  sub.add_flag("--check-config", options->check_config, "Validate the configuration and exit (0 valid, 2 invalid)");
  sub.add_flag("--print-config", options->print_config,
               "Print the effective configuration, each key with its source (default, file:line, env, flag), "
               "secrets as ***, and exit (2 if invalid)");
  return [options] { return run_serve(*options); };
}

}  // namespace tandem::commands
