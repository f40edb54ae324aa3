#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/config/config.hpp"
#include "core/engine/http_api.hpp"
#include "core/engine/node_view.hpp"
#include "core/net/handler.hpp"

namespace boost::asio {
class io_context;
}
namespace tandem::metrics {
class Registry;
}

namespace tandem::cluster {

// A node of a cluster (PROTOCOL.md, DESIGN.md "Cluster"): rooms live in Redis, any number of
// nodes serve them, PostgreSQL receives the audit trail and room snapshots. The same
// room::apply as the embedded node decides everything; see docs/architecture.md "Cluster mode".
//
// Guarantees:
// * One order per room: a room change is committed by one Lua script that compares-and-sets the
//   room's version; its frames reach every node concerned through that node's channel, in commit
//   order, and every node delivers them to its own connections in that order.
// * Per-connection order: a connection's frames are handled one at a time, each after the frames
//   the previous one caused were delivered to it.
// * Nothing acknowledged is lost: a change's audit records enter the Redis audit stream in the
//   same script that publishes its frames; every node copies the stream to PostgreSQL in batches
//   and acknowledges entries only after commit (entries of a dead copier are claimed by another).
//
// Threads: the net io_context calls the net::Handler and NodeView functions (thread-safe); all
// Redis work runs on one thread of the node's own; PostgreSQL on another.
class ClusterNode final : public net::Handler, public engine::NodeView {
 public:
  // Throws std::invalid_argument when the configuration cannot make a cluster node (no [redis] or
  // [postgres], a node id containing '/').
  ClusterNode(boost::asio::io_context& io, const config::Config& config, metrics::Registry& registry);
  ~ClusterNode() override;
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Starts the Redis and PostgreSQL threads and returns at once; /ready turns 200 when Redis
  // answers (reconnecting with backoff for as long as it takes).
  void start();
  // Readiness off; new WebSocket upgrades are refused.
  void set_draining();
  // True when no client frame or disconnect is waiting to be handled or committed.
  bool idle() const;
  // After the connections are closed: leaves the cluster (its liveness key, unless members of
  // this node remain in some room — then the other nodes clean up after its key expires), lets
  // the audit copier finish its batch and room snapshots reach PostgreSQL, stops the threads.
  // Returns within `timeout`.
  void stop(std::chrono::milliseconds timeout);

  // The node's name in connection ids and frames: "<server.node_id>~<6 hex digits>", unique per
  // process, so a restarted node never mistakes its predecessor's members for its own.
  const std::string& instance_id() const;

  // NodeView
  const std::string& node_id() const override;
  bool ready() const override;
  std::size_t presence(const std::string& room_id) override;
  std::string status_json(const std::string& mode, const std::string& client_addr) override;
  ShortIdResult short_id(const std::string& room_id, const std::string& client_addr) override;
  std::optional<std::string> room_for_short_id(const std::string& short_id) override;
  std::string metrics_text() override;

  // net::Handler
  net::HttpResponse http(const net::HttpRequest& request) override;
  std::optional<net::HttpResponse> admit(const net::HttpRequest& request) override;
  void opened(const std::shared_ptr<net::WsConnection>& conn) override;
  void message(const std::shared_ptr<net::WsConnection>& conn, std::string_view text) override;
  void closed(const std::shared_ptr<net::WsConnection>& conn) override;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
  std::unique_ptr<engine::HttpApi> api_;
};

}  // namespace tandem::cluster
