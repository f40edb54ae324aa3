#pragma once

// Internal to core/cluster: the implementation of ClusterNode, shared by cluster_node.cpp (life
// cycle, connections, HTTP), room_ops.cpp (room changes and envelopes) and node_loops.cpp (the
// Redis link and the background loops). Not to be included elsewhere: it pulls in Asio.

#include "core/cluster/cluster_node.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/cluster/commit.hpp"
#include "core/cluster/envelope.hpp"
#include "core/cluster/keys.hpp"
#include "core/cluster/pg_writer.hpp"
#include "core/cluster/scripts.hpp"
#include "core/engine/http_api.hpp"
#include "core/engine/status_snapshot.hpp"
#include "core/metrics/metrics.hpp"
#include "core/proto/error_code.hpp"
#include "core/redis/connection.hpp"

namespace tandem::cluster {

namespace detail {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;
using SteadyTime = std::chrono::steady_clock::time_point;

// Frames of one connection received but not yet handled are bounded by what the rate limit lets
// through in a second beyond the burst: limits.msgs_burst + limits.msgs_per_sec, at least this.
// Beyond the bound frames are answered ERROR server_busy and dropped.
constexpr std::size_t kMinPendingFrames = 256;
// A change that keeps losing the compare-and-set to other nodes is retried (with a random pause
// of up to kCasJitter after the first kCasEagerAttempts) for at most kCasBudget, then answered
// ERROR server_busy.
constexpr int kCasEagerAttempts = 3;
constexpr auto kCasJitter = std::chrono::microseconds(2000);
constexpr auto kCasBudget = std::chrono::seconds(2);
// The controller's POSITION_UPDATE (twice a second) is committed only when it starts or stops
// playback, moves a paused room's position, or moves a playing room's position more than this
// away from the committed position extrapolated to now: while a video plays normally the
// extrapolation already says it.
constexpr double kPositionTolerance = 0.25;  // seconds
// How long a connection waits for the frames of its own change to come back from Redis before
// handling its next frame anyway (only when the node's subscription is broken).
constexpr auto kDeliveryWait = 5s;
constexpr auto kTickInterval = 100ms;
constexpr std::size_t kTicksPerRound = 200;
// A node without members in a room resolves its due deadline only this late (the member nodes
// go first; this one steps in when they are gone).
constexpr room::Millis kForeignTickDelay = 200;
constexpr auto kStatusInterval = 2s;
constexpr std::size_t kStatusScanCount = 1000;
constexpr auto kBacklogInterval = 1s;
constexpr auto kReconnectMin = 100ms;
constexpr auto kReconnectMax = 5s;
constexpr room::Millis kPinWindow = 60'000;
constexpr auto kHttpWait = 2s;  // an HTTP thread waits this long for a short id from Redis
constexpr auto kPgRetryMin = 500ms;
constexpr auto kPgRetryMax = 5s;
constexpr auto kClaimInterval = 5s;
constexpr auto kRedoWindow = 120s;  // audit records kept for re-sending after Redis lost its data
constexpr std::size_t kMaxPendingShortIds = 10'000;
constexpr auto kConsumerCleanupInterval = 60s;
constexpr std::int64_t kConsumerIdleLimitMs = 600'000;
inline const std::string kGroup = "tandem";

inline room::Settings make_settings(const config::Config& c) {
  room::Settings s;
  s.host_grace = c.rooms.host_grace.count();
  s.empty_ttl = c.rooms.empty_ttl.count();
  s.ready_timeout = c.rooms.ready_timeout.count();
  s.stale_after = c.limits.stale_after.count();
  s.max_room_members = static_cast<std::size_t>(c.limits.max_room_members);
  s.allowed_url_prefixes = c.rooms.allowed_url_prefixes;
  s.strict_identity = c.security.strict_identity;
  s.max_pin_attempts = static_cast<std::size_t>(c.limits.pin_attempts);
  return s;
}

inline std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) throw std::runtime_error("RAND_bytes failed");
  return hex(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

inline room::Millis now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline bool is_error_frame(std::string_view text, std::string& code) {
  if (!text.starts_with("{\"type\":\"ERROR\"")) return false;
  const auto at = text.find("\"code\":\"");
  if (at == std::string_view::npos) return false;
  const auto start = at + 8;
  code = std::string(text.substr(start, text.find('"', start) - start));
  return true;
}

// ---- Asio adapters for the callback APIs ----------------------------------------------------

template <class Token>
auto async_command(redis::Connection& conn, std::vector<std::string> args, Token&& token) {
  return asio::async_initiate<Token, void(redis::Reply)>(
      [&conn](auto handler, std::vector<std::string> a) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        conn.command(std::move(a), [shared](redis::Reply reply) { (*shared)(std::move(reply)); });
      },
      token, std::move(args));
}

template <class Token>
auto async_connect(redis::Connection& conn, redis::ConnectOptions options, Token&& token) {
  return asio::async_initiate<Token, void(std::optional<redis::Failure>)>(
      [&conn](auto handler, redis::ConnectOptions o) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        conn.connect(std::move(o), [shared](std::optional<redis::Failure> f) { (*shared)(std::move(f)); });
      },
      token, std::move(options));
}

template <class Token>
auto async_subscribe(redis::Connection& conn, std::string channel, redis::Connection::MessageCallback on_message,
                     Token&& token) {
  return asio::async_initiate<Token, void(redis::Reply)>(
      [&conn](auto handler, std::string ch, redis::Connection::MessageCallback cb) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        conn.subscribe({std::move(ch)}, std::move(cb), [shared](redis::Reply reply) { (*shared)(std::move(reply)); });
      },
      token, std::move(channel), std::move(on_message));
}

template <class Token>
auto async_pg_write(PgWriter& writer, asio::io_context& io, PgBatch batch, Token&& token) {
  return asio::async_initiate<Token, void(bool)>(
      [&writer, &io](auto handler, PgBatch b) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        writer.write(std::move(b), [shared, &io](bool ok) { asio::post(io, [shared, ok] { (*shared)(ok); }); });
      },
      token, std::move(batch));
}

inline awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::as_tuple(use_awaitable));
}

inline bool is_ok_array(const redis::Reply& r) {
  return r.type == redis::Reply::Type::array && !r.elements.empty() &&
         r.elements[0].type == redis::Reply::Type::integer;
}

// Copies position fields of a digest, so that a difference in them alone can be told apart.
struct Digest;
inline Digest without_position(Digest d);

// The part of a room that a frame may change without broadcasting or auditing (the controller's
// POSITION_UPDATE, a counted READY), so that a frame that changed only bookkeeping (last_seen,
// last_activity) is not committed.
struct Digest {
  double current_time;
  bool is_playing;
  room::Millis position_at;
  std::uint64_t seq;
  std::size_t members;
  std::string host;
  std::optional<room::Millis> host_grace;
  bool guest_control;
  std::string url;
  std::uint64_t gate_id;
  std::size_t gate_ready;
  std::size_t gate_expected;
  bool exists;
  bool archived;
  bool operator==(const Digest&) const = default;
};

inline Digest without_position(Digest d) {
  d.current_time = 0;
  d.position_at = 0;
  return d;
}

inline Digest digest(const room::RoomState& s) {
  return Digest{s.current_time,
                s.is_playing,
                s.position_at,
                s.seq,
                s.members.size(),
                s.host_user_id,
                s.host_grace_deadline,
                s.guest_control,
                s.url,
                s.gate ? s.gate->id : 0,
                s.gate ? s.gate->ready.size() : 0,
                s.gate ? s.gate->expected.size() : 0,
                s.exists,
                s.archived};
}

// `document` is the state already serialized for Redis (empty when the room ended).
inline engine::RoomSnapshot snapshot_of(const room::RoomState& s, bool ended, const std::string& document, room::Millis now) {
  engine::RoomSnapshot snap;
  snap.room_id = s.room_id;
  snap.state = ended ? "archived" : (s.members.empty() ? "idle" : "live");
  snap.host_user_id = s.host_user_id;
  snap.url = s.url;
  snap.current_time = room::position_at(s, now);
  snap.is_playing = s.is_playing;
  snap.guest_control = s.guest_control;
  snap.member_count = ended ? 0 : static_cast<std::int64_t>(s.members.size());
  snap.seq = s.seq;
  snap.created_at = s.created_at;
  snap.last_activity = now;
  if (ended) {
    room::RoomState copy = s;
    copy.archived = true;
    copy.members.clear();
    snap.document = boost::json::serialize(room::to_json(copy));
  } else {
    snap.document = document;
  }
  return snap;
}

}  // namespace detail

using namespace detail;

// ---- Impl ------------------------------------------------------------------------------------

class ClusterNode::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& net_io, const config::Config& config, metrics::Registry& registry);
  ~Impl();

  void start();
  void set_draining() {
    draining_.store(true);
    ready_.store(false);
  }
  bool idle() const { return active_items_.load() == 0; }
  void stop(std::chrono::milliseconds timeout);

  const std::string& node_id() const { return node_id_; }
  const std::string& instance() const { return instance_; }
  bool ready() const { return ready_.load(); }
  std::size_t presence(const std::string& room_id);
  std::string status_json(const std::string& mode, const std::string& client_addr);
  engine::NodeView::ShortIdResult short_id(const std::string& room_id, const std::string& client_addr);
  std::optional<std::string> room_for_short_id(const std::string& short_id);
  std::string metrics_text() { return registry_.render(); }

  void opened(const std::shared_ptr<net::WsConnection>& ws);
  void message(const std::shared_ptr<net::WsConnection>& ws, std::string_view text);
  void closed(const std::shared_ptr<net::WsConnection>& ws);

 private:
  // One WebSocket of this node. `pending` and `ws` are shared with the I/O threads; everything
  // else belongs to the Redis thread.
  struct Conn {
    std::weak_ptr<net::WsConnection> ws;
    room::ConnId id;
    std::string addr;
    std::atomic<std::size_t> pending{0};
    // Redis thread only:
    struct Item {
      bool closed = false;
      proto::ParseResult parsed;
      SteadyTime received;
    };
    std::deque<Item> queue;
    bool running = false;
    std::string room;                 // bound room ("" before JOIN)
    std::uint64_t bound_version = 0;  // the room version that bound it
    std::size_t pin_failures = 0;
    room::Millis seen_committed = 0;  // strict identity: last SeenInput committed
  };

  // A room this node works on or has members in (Redis thread only). Dropped when unused.
  struct RoomEntry {
    std::string id;
    room::RoomState state;
    std::uint64_t version = 0;  // the committed version `state` is (when loaded)
    bool loaded = false;
    // The playback position as last committed (or adopted), for kPositionTolerance.
    double committed_time = 0;
    room::Millis committed_at = 0;
    bool committed_playing = false;
    bool locked = false;
    std::deque<std::shared_ptr<asio::steady_timer>> lock_waiters;
    // A newer committed state that arrived while the entry was locked (nullopt state: ended).
    std::optional<std::pair<std::uint64_t, std::optional<room::RoomState>>> newer;
    std::optional<std::uint64_t> processed;  // last envelope version handled
    std::optional<std::uint64_t> delivered;  // same, while this node has members (gap detection)
    std::multimap<std::uint64_t, std::shared_ptr<asio::steady_timer>> waiters;
    std::unordered_set<room::ConnId> local_bound;
    bool ticking = false;
  };

  struct OpResult {
    bool ok = false;  // applied; false: Redis failed or contention (the caller answers server_busy)
    room::JoinOutcome join = room::JoinOutcome::none;
    std::uint64_t version = 0;
    bool broadcast = false;
  };

  struct RedoEntry {
    SteadyTime at;
    std::vector<std::string> fields;
  };

  // ---- connections ----
  void kick(const std::shared_ptr<Conn>& c);
  awaitable<void> conn_loop(std::shared_ptr<Conn> c);
  awaitable<void> handle_item(std::shared_ptr<Conn> c, Conn::Item& item);
  awaitable<void> refresh_seen(std::shared_ptr<Conn> c, SteadyTime received);
  awaitable<void> handle_join(std::shared_ptr<Conn> c, proto::Frame& frame, SteadyTime received);
  void reply(const std::shared_ptr<Conn>& c, proto::ErrorCode code);
  void send_local(const room::ConnId& id, const std::shared_ptr<const std::string>& text);
  void close_local(const room::ConnId& id, std::uint16_t code, const std::string& reason);
  bool busy() const { return !link_up_.load() || backlog_.load() >= audit_capacity_; }

  // ---- rooms ----
  std::shared_ptr<RoomEntry> entry(const std::string& room_id);
  void maybe_drop(const std::shared_ptr<RoomEntry>& r);
  awaitable<void> lock(std::shared_ptr<RoomEntry> r);
  void unlock(RoomEntry& r);
  awaitable<bool> load(RoomEntry& r);
  void adopt(RoomEntry& r, std::uint64_t version, std::optional<room::RoomState> state);
  void remember_position(RoomEntry& r);
  awaitable<OpResult> room_op(std::string room_id, room::Input input, std::shared_ptr<Conn> origin,
                              SteadyTime received);
  awaitable<OpResult> apply_and_commit(RoomEntry& r, room::Input& input, const std::shared_ptr<Conn>& origin);
  void deliver_uncommitted(const std::string& room_id, room::Effects& fx);
  void after_commit(RoomEntry& r, bool ended, const Commit& commit, const std::shared_ptr<Conn>& origin,
                    room::Millis now);
  awaitable<void> wait_processed(std::shared_ptr<RoomEntry> r, std::uint64_t version);
  awaitable<bool> address_blocked(const std::string& addr);
  void record_pin_failure(const std::string& addr);
  awaitable<void> reconcile_room(std::string room_id);

  // ---- envelopes ----
  void on_envelope(const redis::Message& message);
  void deliver(const Envelope& env);
  void resync_entry(RoomEntry& r, const char* why);

  // ---- Redis link and loops ----
  awaitable<redis::Reply> call(std::vector<std::string> args);
  // call() with the arguments listed. GCC 12 miscompiles coroutine calls whose arguments are
  // braced lists or converted temporaries (double destruction): coroutines here are always
  // called with named values or std::move of named values.
  template <class... Args>
  awaitable<redis::Reply> callv(Args&&... args) {
    std::vector<std::string> list{std::string(std::forward<Args>(args))...};
    return call(std::move(list));
  }
  awaitable<redis::Reply> eval(const Script& script, std::vector<std::string> args);
  void fire(std::vector<std::string> args);
  redis::ConnectOptions connect_options() const;
  void link_lost(const std::string& why);
  awaitable<void> link_loop();
  awaitable<bool> establish();
  awaitable<void> after_connect(bool data_lost);
  awaitable<void> heartbeat_loop();
  awaitable<void> recheck_rooms();
  awaitable<void> watchdog_loop();
  awaitable<void> dead_node_loop();
  awaitable<void> cleanup_node(std::string node);
  awaitable<void> deadline_loop();
  awaitable<void> tick_room(std::string room_id);
  awaitable<void> status_loop();
  awaitable<void> backlog_loop();
  awaitable<void> audit_loop();
  awaitable<bool> write_batch(std::vector<std::string> ids, PgBatch batch);
  awaitable<void> short_id_op(std::string room_id, std::string addr,
                              std::shared_ptr<std::promise<engine::NodeView::ShortIdResult>> promise);
  awaitable<void> lookup_presence(std::string room_id, std::shared_ptr<std::promise<std::optional<std::size_t>>> promise);
  awaitable<void> lookup_short_id(std::string key, std::shared_ptr<std::promise<std::optional<std::string>>> promise);
  awaitable<void> leave_cluster(SteadyTime deadline, std::shared_ptr<std::promise<void>> done);
  std::string next_uid() { return instance_ + "-" + std::to_string(++uid_counter_); }
  void spawn(awaitable<void> task, const char* what);

  // ---- members ----
  asio::io_context& net_io_;
  const config::Config& config_;
  const room::Settings settings_;
  const std::string node_id_;
  const std::string instance_;
  const Keys keys_;
  const std::string channel_;
  const std::size_t audit_capacity_;
  const std::size_t max_pending_frames_;
  const std::chrono::milliseconds node_ttl_;
  metrics::Registry& registry_;
  const SteadyTime started_ = std::chrono::steady_clock::now();

  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> link_up_{false};
  std::atomic<std::size_t> backlog_{0};
  std::atomic<std::size_t> active_items_{0};
  std::atomic<std::size_t> status_rooms_{0};
  std::atomic<std::size_t> local_room_count_{0};

  // I/O-thread side of the connections.
  mutable std::shared_mutex conns_mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Conn>> conns_;

  // /status and presence, rebuilt every kStatusInterval.
  engine::StatusSnapshots status_;
  std::mutex presence_mutex_;
  std::shared_ptr<const std::unordered_map<std::string, std::size_t>> presence_ =
      std::make_shared<std::unordered_map<std::string, std::size_t>>();

  // Redis thread.
  asio::io_context rio_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread rio_thread_;
  std::unique_ptr<redis::Connection> cmd_;
  std::unique_ptr<redis::Connection> sub_;
  asio::steady_timer link_wake_;
  std::string epoch_;
  bool registered_ = false;
  bool heartbeat_pending_ = false;  // a liveness refresh is waiting for Redis' answer
  SteadyTime heartbeat_sent_{};
  bool stopping_ = false;
  std::unordered_map<room::ConnId, std::shared_ptr<Conn>> local_;
  std::unordered_map<std::string, std::shared_ptr<RoomEntry>> rooms_;
  std::uint64_t uid_counter_ = 0;
  std::deque<RedoEntry> redo_;
  std::map<std::string, engine::RoomSnapshot> pending_snapshots_;
  std::vector<engine::ShortIdRecord> pending_short_ids_;
  std::unordered_map<std::string, std::deque<room::Millis>> mints_by_addr_;
  std::unordered_set<std::string> cleaning_nodes_;
  bool audit_busy_ = false;
  std::mt19937_64 random_{std::random_device{}()};

  PgWriter pg_;

  metrics::CounterFamily& messages_in_;
  metrics::Counter& messages_out_;
  metrics::CounterFamily& errors_;
  metrics::Histogram& broadcast_latency_;
  metrics::Histogram& delivery_latency_;
  metrics::CounterFamily& backend_errors_;
  metrics::Counter& dropped_position_updates_;
  metrics::Counter& cas_retries_;
  metrics::Counter& resync_closes_;
  metrics::Counter& nodes_lost_;
  metrics::Counter& audit_written_;
  metrics::Counter& overflow_drops_;
};

}  // namespace tandem::cluster
