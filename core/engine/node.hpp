#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/config/config.hpp"
#include "core/engine/http_api.hpp"
#include "core/engine/journal.hpp"
#include "core/engine/node_view.hpp"
#include "core/engine/short_ids.hpp"
#include "core/engine/status_snapshot.hpp"
#include "core/metrics/metrics.hpp"
#include "core/net/handler.hpp"
#include "core/room/room.hpp"

namespace tandem::engine {

// The embedded node: every room of this process in memory, the room state machine applied under
// one mutex per room, effects delivered to local connections, and everything durable written
// through a Journal. Thread-safe; runs on any number of io_context threads.
//
// Ordering: a room's effects are applied and queued to every recipient while that room's mutex
// is held, so all members see one order per room (invariant 1). A connection's frames are handled
// one at a time (the net layer guarantees it), so per-connection order holds too.
class Node final : public net::Handler, public NodeView {
 public:
  Node(boost::asio::io_context& io, const config::Config& config, Journal& journal, metrics::Registry& registry);
  ~Node() override;

  // Restores rooms persisted by an earlier run, then starts the room timers and the /status
  // snapshot. Call once before serving.
  void start();
  // Readiness off (/ready answers 503); called at the beginning of a drain.
  void set_draining();
  // Stops timers; after the connections are closed.
  void stop();

  std::size_t room_count() const;

  // NodeView
  const std::string& node_id() const override { return node_id_; }
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

 private:
  struct RoomSlot {
    std::mutex mutex;
    room::RoomState state;
    bool removed = false;  // archived and taken out of the map
    std::uint64_t persisted_seq = 0;
    room::Millis persisted_at = 0;
  };
  struct ConnEntry {
    std::weak_ptr<net::WsConnection> conn;
    std::string room_id;  // bound room, empty before JOIN
    std::size_t pin_failures = 0;
  };

  room::ConnId conn_id(const net::WsConnection& conn) const;
  room::Millis now_ms() const;

  void handle_join(const std::shared_ptr<net::WsConnection>& conn, proto::Frame& frame);
  void handle_room_frame(const std::shared_ptr<net::WsConnection>& conn, proto::Frame& frame);
  // Applies `input` to the room under its lock and delivers the effects. Returns the effects
  // (frames already delivered). `create` makes the slot when the room does not exist.
  room::Effects apply(const std::string& room_id, const room::Input& input, bool create,
                      std::chrono::steady_clock::time_point received);
  void deliver(RoomSlot& slot, room::Effects& effects, std::chrono::steady_clock::time_point received);
  void persist(RoomSlot& slot, room::Millis now);
  void send_to(const room::ConnId& id, const std::shared_ptr<const std::string>& frame);
  void reply(const std::shared_ptr<net::WsConnection>& conn, proto::ErrorCode code);

  bool address_blocked(const std::string& addr, room::Millis now);
  void record_pin_failure(const std::string& addr, room::Millis now);

  void schedule_tick();
  void tick();
  void rebuild_status();

  boost::asio::io_context& io_;
  const config::Config& config_;
  const room::Settings settings_;
  const std::string node_id_;
  Journal& journal_;
  const std::chrono::steady_clock::time_point started_;
  std::atomic<bool> ready_{false};

  mutable std::mutex rooms_mutex_;
  std::unordered_map<std::string, std::shared_ptr<RoomSlot>> rooms_;

  mutable std::shared_mutex conns_mutex_;
  std::unordered_map<room::ConnId, ConnEntry> conns_;

  std::mutex pin_mutex_;
  std::unordered_map<std::string, std::deque<room::Millis>> pin_failures_by_addr_;

  ShortIds short_ids_;
  StatusSnapshots status_;

  metrics::Registry& registry_;
  HttpApi api_;
  boost::asio::steady_timer tick_timer_;
  std::chrono::steady_clock::time_point last_status_build_{};

  metrics::CounterFamily& messages_in_;
  metrics::Counter& messages_out_;
  metrics::CounterFamily& errors_;
  metrics::Histogram& broadcast_latency_;
  metrics::CounterFamily& backend_errors_;
  metrics::Counter& dropped_position_updates_;
};

}  // namespace tandem::engine
