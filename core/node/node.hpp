#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/engine/engine.hpp"
#include "core/net/handler.hpp"
#include "core/node/http_api.hpp"
#include "core/node/node_metrics.hpp"
#include "core/proto/frame.hpp"
#include "core/util/bounded_worker.hpp"

namespace tandem::config {
struct Config;
}

namespace tandem::node {

// The signaling node: the one implementation of everything a client talks to, over either
// engine (DESIGN.md "Two modes, one behaviour"). It keeps the connection table, applies the
// per-frame checks of docs/protocol.md §10 (not_joined, server_busy, dropped POSITION_UPDATEs),
// assembles JOINs (the connection's peerId, session tokens, PIN salts), counts wrong PINs per
// connection, answers PING and errors, submits everything else to the engine, delivers the
// engine's effects to its connections, and serves the HTTP API.
//
// Per-connection order (docs/protocol.md §1): a connection's frames are submitted one at a time, in
// arrival order; the next is submitted when the engine reported the previous one done (which
// it does after delivering the previous one's effects here). Frames arriving meanwhile wait in
// the connection's queue, bounded by max(kMinPendingFrames, limits.msgs_burst +
// limits.msgs_per_sec); beyond it ERROR server_busy and the frame is dropped. PING is answered
// at once, ahead of frames that wait for the engine: its PONG depends on nothing before it.
//
// Threads: net::Handler calls arrive on the I/O threads; engine completions and deliveries may
// arrive on the engine's thread. Everything here is thread-safe.
class Node final : public net::Handler, public engine::EngineHost {
 public:
  Node(const config::Config& config, engine::Engine& engine, metrics::Registry& registry);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Starts the engine (deliveries come here) and turns readiness on.
  void start();
  // Readiness off (/ready 503, upgrades refused); the beginning of a drain.
  void begin_drain();
  // No frame or disconnect of any connection is waiting for the engine.
  bool idle() const;
  bool ready() const;

  // net::Handler
  void http(const net::HttpRequest& request, Respond respond) override;
  std::optional<net::HttpResponse> admit(const net::HttpRequest& request) override;
  void opened(const std::shared_ptr<net::WsConnection>& ws) override;
  void message(const std::shared_ptr<net::WsConnection>& ws, std::string_view text) override;
  void closed(const std::shared_ptr<net::WsConnection>& ws) override;

  // engine::EngineHost
  void deliver(const engine::Delivery& delivery) override;

  std::size_t connection_count() const;

 private:
  struct Item {
    enum class Kind { frame, seen, closed } kind = Kind::frame;
    proto::ParseResult parsed;
    std::chrono::steady_clock::time_point received;
  };
  struct Conn;

  std::shared_ptr<Conn> find(std::uint64_t id) const;
  std::shared_ptr<Conn> find(const room::ConnId& id) const;
  // The connections of `ids` that are this node's and still open, in order.
  std::vector<std::shared_ptr<Conn>> find_all(const std::vector<room::ConnId>& ids) const;
  // n of a connection id "<instance>/<n>" of this node.
  std::optional<std::uint64_t> local_number(const room::ConnId& id) const;
  void enqueue(const std::shared_ptr<Conn>& c, Item item);
  void run(const std::shared_ptr<Conn>& c, Item item);
  void resume(const std::shared_ptr<Conn>& c);
  // The next waiting item, or false (and the connection is idle) when there is none.
  bool next_item(Conn& c, Item& item);
  // Handles one item; calls `done` exactly once when it is finished (inline or later).
  void process(const std::shared_ptr<Conn>& c, Item& item, std::function<void()> done);
  void process_frame(const std::shared_ptr<Conn>& c, proto::Frame& frame,
                     std::chrono::steady_clock::time_point received, std::function<void()> done);
  void process_join(const std::shared_ptr<Conn>& c, proto::Frame& frame,
                    std::chrono::steady_clock::time_point received, std::function<void()> done);
  // The JOIN, its PIN already hashed if it has one, to the engine.
  void submit_join(const std::shared_ptr<Conn>& c, engine::Submission submission, std::string previous,
                   std::chrono::steady_clock::time_point received, std::function<void()> done);
  void reply(Conn& c, proto::ErrorCode code);
  // The connection's room ("" when none) and the engine's handle on it.
  struct Binding {
    std::string room;
    engine::RoomHandle handle;
  };
  std::string bound_room(Conn& c);
  Binding binding(Conn& c);
  // The binding, which the connection no longer has afterwards.
  Binding unbind(Conn& c);
  // limits.relay_bytes_per_sec for a relayed frame of `bytes`; false: over the bound, drop it.
  bool take_relay_bytes(Conn& c, std::size_t bytes, std::chrono::steady_clock::time_point now);

  const config::Config& config_;
  engine::Engine& engine_;
  const std::string& instance_;
  const std::size_t max_pending_frames_;
  const std::size_t pin_attempts_;
  const proto::ParseLimits parse_limits_;
  const double relay_bytes_per_sec_;
  std::atomic<bool> ready_{false};
  std::atomic<std::size_t> active_items_{0};

  mutable std::shared_mutex conns_mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Conn>> conns_;  // by net connection id

  NodeMetrics metrics_;
  HttpApi api_;
  // PBKDF2 of JOIN PINs (room::JoinInput::pin_proof), off the I/O threads. Last member: stopped
  // (its queued jobs run) before anything they use is destroyed.
  util::BoundedWorker pin_worker_;
};

}  // namespace tandem::node
