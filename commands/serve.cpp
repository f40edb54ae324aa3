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
#include <iostream>
#include <memory>
#include <thread>

#include "commands/command.hpp"
#include "commands/common.hpp"
#include "core/cluster/cluster_node.hpp"
#include "core/engine/node.hpp"
#include "core/engine/sqlite_journal.hpp"
#include "core/metrics/metrics.hpp"
#include "core/net/server.hpp"
#include "core/store/schema.hpp"

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
};

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "tandem";
  return buf;
}

net::ServerOptions server_options(const config::Config& c) {
  net::ServerOptions o;
  o.host = c.server.host;
  o.port = c.server.port;
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
  o.send_queue_bytes = static_cast<std::size_t>(c.limits.send_queue_bytes);
  return o;
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

// Cluster mode ([redis] and [postgres]): rooms in Redis, audit trail in PostgreSQL. Same drain as
// the embedded node; the audit trail needs no flush of its own (it waits in Redis), only the
// disconnects of this node's members must be committed before it leaves.
int run_cluster(const config::Config& config) {
  metrics::Registry registry;
  asio::io_context io;
  cluster::ClusterNode node(io, config, registry);
  net::Server server(io, server_options(config), node, registry);
  server.start();  // throws "cannot listen on …" (port in use)
  node.start();

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
      node.set_draining();
      server.stop_accepting();
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

  const unsigned threads = config.server.threads > 0 ? static_cast<unsigned>(config.server.threads)
                                                     : std::max(1u, std::thread::hardware_concurrency());
  spdlog::info("tandem serve: node {} listening on {}:{} (cluster mode as {}, {} threads)", config.server.node_id,
               config.server.host, server.port(), node.instance_id(), threads);
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  node.stop(std::chrono::duration_cast<std::chrono::milliseconds>(config.server.drain_timeout * kFlushShare));
  spdlog::info("drained; exiting");
  return 0;
}

int run_serve(ServeOptions& options) {
  if (!options.host.empty()) options.common.flag_settings.emplace_back("server.host", options.host);
  if (options.port != 0) options.common.flag_settings.emplace_back("server.port", std::to_string(options.port));
  if (!options.node_id.empty()) options.common.flag_settings.emplace_back("server.node_id", options.node_id);
  if (!options.data_dir.empty()) options.common.flag_settings.emplace_back("server.data_dir", options.data_dir);
  config::Config config = load_config_and_logging(options.common);
  if (options.check_config) {
    std::cout << "configuration OK (" << (config.redis && config.postgres ? "cluster" : "embedded") << " mode)\n";
    return 0;
  }
  if (config.server.node_id.empty()) config.server.node_id = hostname();
  if (config.redis && config.postgres) return run_cluster(config);
  if (config.redis || config.postgres) {
    spdlog::error("cluster mode needs both [redis] and [postgres] ({} is missing); remove the other to run the "
                  "embedded node", config.redis ? "[postgres]" : "[redis]");
    return 2;
  }

  const std::filesystem::path data_dir = config.server.data_dir;
  prepare_data_dir(data_dir);
  const auto db_file = store::sqlite_path(config);
  store::ensure_sqlite_schema(db_file);

  metrics::Registry registry;
  auto& backend_errors = registry.counter("tandem_sqlite_write_errors_total", "Failed SQLite journal writes");
  engine::SqliteJournal journal(
      db_file,
      engine::SqliteJournalOptions{static_cast<std::size_t>(config.audit.queue_capacity),
                                   static_cast<std::size_t>(config.audit.batch_size), config.audit.flush_interval},
      backend_errors);

  asio::io_context io;
  engine::Node node(io, config, journal, registry);
  net::Server server(io, server_options(config), node, registry);
  server.start();  // throws "cannot listen on …" (port in use)
  node.start();

  const auto started = std::chrono::steady_clock::now();
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
      node.set_draining();
      server.stop_accepting();
      server.close_all(kCloseServiceRestart, "service restart");
      arm();
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            const auto deadline = std::chrono::steady_clock::now() +
                                  std::chrono::duration_cast<std::chrono::milliseconds>(
                                      config.server.drain_timeout * (1.0 - kFlushShare));
            asio::steady_timer timer(io);
            while (server.websocket_count() > 0 && std::chrono::steady_clock::now() < deadline) {
              timer.expires_after(50ms);
              co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            node.stop();
            io.stop();
          },
          asio::detached);
    });
  };
  arm();

  const unsigned threads = config.server.threads > 0 ? static_cast<unsigned>(config.server.threads)
                                                     : std::max(1u, std::thread::hardware_concurrency());
  spdlog::info("tandem serve: node {} listening on {}:{} (embedded mode, data {}, {} threads)",
               config.server.node_id, config.server.host, server.port(), db_file.string(), threads);
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();

  const auto elapsed = std::chrono::steady_clock::now() - started;
  (void)elapsed;
  const auto flush_budget = std::chrono::duration_cast<std::chrono::milliseconds>(config.server.drain_timeout * kFlushShare);
  if (!journal.drain(flush_budget)) {
    spdlog::error("drain: {} audit events could not be written before the deadline", journal.backlog());
    return 1;
  }
  spdlog::info("drained; exiting");
  return 0;
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
  return [options] { return run_serve(*options); };
}

}  // namespace tandem::commands
