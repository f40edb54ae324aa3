#include "core/node/node.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <boost/json/serialize.hpp>

#include "core/config/config.hpp"
#include "core/proto/error_code.hpp"
#include "core/util/random.hpp"
#include "core/util/duration.hpp"

namespace tandem::node {

namespace {

// A connection's frames waiting for the engine are bounded by what the rate limit lets through
// in a second beyond the burst (limits.msgs_burst + limits.msgs_per_sec), and at least this.
constexpr std::size_t kMinPendingFrames = 256;
constexpr std::uint16_t kClosePolicy = 1008;
// limits.relay_bytes_per_sec: the burst is this many seconds of it; ERROR rate_limited for
// dropped relays at most this often per connection.
constexpr double kRelayBurstSeconds = 4.0;
constexpr auto kRelayNoticeInterval = std::chrono::seconds(1);
// JOINs with a PIN waiting for the PIN worker (~0.7 ms each: about a quarter of a second of
// hashing). Beyond it a JOIN with a PIN is answered server_busy (tandem_pin_hash_refusals_total);
// room creation per address (limits.rooms_per_ip_minute) and PIN attempts per address bound what
// one client can queue.
constexpr std::size_t kMaxQueuedPinHashes = 256;

using util::epoch_ms;

// Frames that change no room state: served while the audit backlog is full.
bool read_only(const proto::Frame& frame) {
  return std::holds_alternative<proto::RequestSync>(frame.body) ||
         std::holds_alternative<proto::Targeted>(frame.body) ||
         std::holds_alternative<proto::PositionUpdate>(frame.body) ||
         std::holds_alternative<proto::Ready>(frame.body);
}

}  // namespace

// One WebSocket of this node.
struct Node::Conn {
  std::shared_ptr<net::WsConnection> ws;
  room::ConnId id;
  std::string peer_id;  // docs/protocol.md §2: one per connection, kept across its JOINs
  std::string addr;

  // limits.relay_bytes_per_sec: what this connection may still put into other members' queues.
  // Touched only by message(), which runs on the connection's own event loop.
  double relay_tokens = 0;
  std::chrono::steady_clock::time_point relay_at{};
  std::chrono::steady_clock::time_point relay_notice{};  // last rate_limited sent for it

  std::mutex mutex;  // guards the fields below
  std::string room;  // bound room, empty before a JOIN
  engine::RoomHandle room_handle;  // the engine's handle on `room`, from the JOIN that seated it
  std::size_t pin_failures = 0;
  // The socket is closed or being closed (by the client, or after limits.pin_attempts wrong
  // PINs): JOINs still queued are dropped instead of seating a connection nobody holds (and
  // instead of checking more PINs than the connection may try). Other queued frames still run:
  // the client sent them before it left.
  bool closing = false;
  std::deque<Item> queue;  // items waiting while one is with the engine
  bool running = false;    // an item is being processed

  // The item in progress: 0 while processing, 1 when run() moved on before it finished (its
  // completion continues the queue), 2 when it finished before run() moved on.
  std::atomic<int> phase{0};
};

Node::Node(const config::Config& config, engine::Engine& engine, metrics::Registry& registry)
    : config_(config),
      engine_(engine),
      instance_(engine.instance()),
      max_pending_frames_(std::max<std::size_t>(
          kMinPendingFrames, static_cast<std::size_t>(config.limits.msgs_burst + config.limits.msgs_per_sec))),
      pin_attempts_(static_cast<std::size_t>(config.limits.pin_attempts)),
      parse_limits_{static_cast<std::size_t>(config.limits.max_url_bytes)},
      relay_bytes_per_sec_(static_cast<double>(config.limits.relay_bytes_per_sec)),
      metrics_(registry),
      api_(config, engine, registry,
           HttpApi::NodeState{[this] { return ready(); }, [this] { return connection_count(); }}),
      pin_worker_(kMaxQueuedPinHashes, "pin-hash") {}

Node::~Node() {
  // Connections that were never closed (the transport stopped first): each holds its Conn as its
  // context and the Conn holds it; break the cycle so that both are freed.
  for (auto& [id, c] : conns_) c->ws->set_context(nullptr);
}

void Node::start() {
  engine_.start(*this);
  ready_.store(true);
}

void Node::begin_drain() {
  ready_.store(false);
  engine_.begin_drain();
}

bool Node::idle() const { return active_items_.load() == 0 && engine_.idle(); }

bool Node::ready() const { return ready_.load() && engine_.healthy(); }

std::size_t Node::connection_count() const {
  std::shared_lock lock(conns_mutex_);
  return conns_.size();
}

void Node::http(const net::HttpRequest& request, Respond respond) { api_.handle(request, std::move(respond)); }

std::optional<net::HttpResponse> Node::admit(const net::HttpRequest&) {
  if (!ready_.load() || !engine_.can_serve()) {
    return net::HttpResponse{503, "text/plain; charset=utf-8", "Not ready\n", {}};
  }
  return std::nullopt;
}

std::shared_ptr<Node::Conn> Node::find(std::uint64_t id) const {
  std::shared_lock lock(conns_mutex_);
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second;
}

std::optional<std::uint64_t> Node::local_number(const room::ConnId& id) const {
  // "<instance>/<n>": only this node's connections are here.
  const std::size_t prefix = instance_.size();
  if (id.size() <= prefix + 1 || id.compare(0, prefix, instance_) != 0 || id[prefix] != '/') return std::nullopt;
  std::uint64_t n = 0;
  const char* end = id.data() + id.size();
  const auto [ptr, ec] = std::from_chars(id.data() + prefix + 1, end, n);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return n;
}

std::shared_ptr<Node::Conn> Node::find(const room::ConnId& id) const {
  const auto n = local_number(id);
  return n ? find(*n) : nullptr;
}

std::vector<std::shared_ptr<Node::Conn>> Node::find_all(const std::vector<room::ConnId>& ids) const {
  std::vector<std::shared_ptr<Conn>> found;
  found.reserve(ids.size());
  std::shared_lock lock(conns_mutex_);
  for (const auto& id : ids) {
    const auto n = local_number(id);
    if (!n) continue;
    if (auto it = conns_.find(*n); it != conns_.end()) found.push_back(it->second);
  }
  return found;
}

void Node::opened(const std::shared_ptr<net::WsConnection>& ws) {
  auto c = std::make_shared<Conn>();
  c->ws = ws;
  c->id = instance_ + "/" + std::to_string(ws->id());
  c->peer_id = util::random_hex(8);
  c->addr = ws->client_addr();
  ws->set_context(c);  // message() finds it there, without the table's lock
  std::unique_lock lock(conns_mutex_);
  conns_[ws->id()] = c;
}

void Node::closed(const std::shared_ptr<net::WsConnection>& ws) {
  ws->set_context(nullptr);  // the Conn holds the connection: no cycle outlives it
  std::shared_ptr<Conn> c;
  {
    std::unique_lock lock(conns_mutex_);
    auto it = conns_.find(ws->id());
    if (it == conns_.end()) return;
    c = std::move(it->second);
    conns_.erase(it);
  }
  {
    std::lock_guard lock(c->mutex);
    c->closing = true;
  }
  enqueue(c, Item{Item::Kind::closed, proto::ParseError{proto::ErrorCode::bad_json}, std::chrono::steady_clock::now()});
}

void Node::message(const std::shared_ptr<net::WsConnection>& ws, std::string_view text) {
  const auto received = std::chrono::steady_clock::now();
  auto c = std::static_pointer_cast<Conn>(ws->context());
  if (!c) return;
  auto parsed = proto::parse(text, parse_limits_);
  auto* frame = std::get_if<proto::Frame>(&parsed);
  metrics_.in(frame ? std::string_view(frame->type) : std::string_view("invalid")).inc();
  if (frame && (std::holds_alternative<proto::Relay>(frame->body) || std::holds_alternative<proto::Targeted>(frame->body)) &&
      !take_relay_bytes(*c, text.size(), received)) {
    metrics_.relay_limited_frames.inc();
    if (received - c->relay_notice >= kRelayNoticeInterval) {
      c->relay_notice = received;
      reply(*c, proto::ErrorCode::rate_limited);
    }
    return;
  }
  if (frame && std::holds_alternative<proto::Ping>(frame->body)) {
    // Answered at once, also while earlier frames wait for the engine; a member's PING then
    // refreshes its presence in the room, in order with its other frames.
    const boost::json::object pong{{"type", "PONG"}, {"timestamp", epoch_ms()}};
    metrics_.messages_out.inc();
    ws->send(std::make_shared<const std::string>(boost::json::serialize(pong)));
    if (!bound_room(*c).empty()) enqueue(c, Item{Item::Kind::seen, {}, received});
    return;
  }
  enqueue(c, Item{Item::Kind::frame, std::move(parsed), received});
}

// A token bucket of bytes: relay_bytes_per_sec_ a second, kRelayBurstSeconds of them banked (at
// least one largest frame), full at the connection's first relayed frame.
bool Node::take_relay_bytes(Conn& c, std::size_t bytes, std::chrono::steady_clock::time_point now) {
  const double burst = std::max(relay_bytes_per_sec_ * kRelayBurstSeconds, static_cast<double>(config_.limits.max_frame_bytes));
  if (c.relay_at == std::chrono::steady_clock::time_point{}) {
    c.relay_tokens = burst;
  } else {
    c.relay_tokens = std::min(burst, c.relay_tokens + std::chrono::duration<double>(now - c.relay_at).count() * relay_bytes_per_sec_);
  }
  c.relay_at = now;
  if (c.relay_tokens < static_cast<double>(bytes)) return false;
  c.relay_tokens -= static_cast<double>(bytes);
  return true;
}

std::string Node::bound_room(Conn& c) {
  std::lock_guard lock(c.mutex);
  return c.room;
}

Node::Binding Node::binding(Conn& c) {
  std::lock_guard lock(c.mutex);
  return Binding{c.room, c.room_handle};
}

Node::Binding Node::unbind(Conn& c) {
  std::lock_guard lock(c.mutex);
  return Binding{std::exchange(c.room, {}), std::exchange(c.room_handle, {})};
}

void Node::enqueue(const std::shared_ptr<Conn>& c, Item item) {
  bool overflow = false;
  {
    std::lock_guard lock(c->mutex);
    if (c->running) {
      overflow = item.kind == Item::Kind::frame && c->queue.size() >= max_pending_frames_;
      if (!overflow) {
        active_items_.fetch_add(1);
        c->queue.push_back(std::move(item));
        return;
      }
    } else {
      c->running = true;
      active_items_.fetch_add(1);
    }
  }
  if (overflow) {
    metrics_.pending_frame_drops.inc();
    reply(*c, proto::ErrorCode::server_busy);
    return;
  }
  run(c, std::move(item));
}

void Node::run(const std::shared_ptr<Conn>& c, Item item) {
  for (;;) {
    c->phase.store(0);
    process(c, item, [this, c] {
      active_items_.fetch_sub(1);
      if (c->phase.exchange(2) == 1) resume(c);
    });
    if (c->phase.exchange(1) == 0) return;  // still with the engine: its completion resumes
    if (!next_item(*c, item)) return;
  }
}

void Node::resume(const std::shared_ptr<Conn>& c) {
  Item item;
  if (next_item(*c, item)) run(c, std::move(item));
}

bool Node::next_item(Conn& c, Item& item) {
  std::lock_guard lock(c.mutex);
  if (c.queue.empty()) {
    c.running = false;
    return false;
  }
  item = std::move(c.queue.front());
  c.queue.pop_front();
  return true;
}

void Node::process(const std::shared_ptr<Conn>& c, Item& item, std::function<void()> done) {
  try {
    if (item.kind != Item::Kind::frame) {
      Binding bound = item.kind == Item::Kind::closed ? unbind(*c) : binding(*c);
      if (bound.room.empty()) return done();
      room::Input input = item.kind == Item::Kind::closed ? room::Input(room::DisconnectInput{c->id, false})
                                                          : room::Input(room::SeenInput{c->id});
      const room::ConnId origin = item.kind == Item::Kind::closed ? room::ConnId() : c->id;
      engine_.submit(engine::Submission{std::move(bound.room), std::move(input), origin, std::move(bound.handle)},
                     [done = std::move(done)](engine::Outcome) { done(); });
      return;
    }
    if (auto* error = std::get_if<proto::ParseError>(&item.parsed)) {
      // §10 order of checks: not_joined comes before reserved_type.
      const bool unjoined_reserved = error->code == proto::ErrorCode::reserved_type && bound_room(*c).empty();
      reply(*c, unjoined_reserved ? proto::ErrorCode::not_joined : error->code);
      return done();
    }
    auto& frame = std::get<proto::Frame>(item.parsed);
    if (std::holds_alternative<proto::Join>(frame.body)) {
      bool closing = false;
      {
        std::lock_guard lock(c->mutex);
        closing = c->closing;
      }
      if (closing) {
        metrics_.closed_joins_dropped.inc();
        return done();
      }
      return process_join(c, frame, item.received, std::move(done));
    }
    process_frame(c, frame, item.received, std::move(done));
  } catch (const std::exception& e) {
    spdlog::error("connection {}: {}", c->id, e.what());
    done();
  }
}

void Node::process_frame(const std::shared_ptr<Conn>& c, proto::Frame& frame,
                         std::chrono::steady_clock::time_point received, std::function<void()> done) {
  Binding bound = binding(*c);
  if (bound.room.empty()) {
    reply(*c, proto::ErrorCode::not_joined);
    return done();
  }
  if (std::holds_alternative<proto::PositionUpdate>(frame.body) && frame.field_error) {
    metrics_.dropped_position_updates.inc();
    return done();
  }
  if (!engine_.can_serve() || (!read_only(frame) && !engine_.can_commit())) {
    reply(*c, proto::ErrorCode::server_busy);
    return done();
  }
  // The frame's reported position is as of its arrival, however long it waited behind this
  // connection's earlier frames or the room's other changes.
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - received);
  room::FrameInput input{c->id, instance_, std::move(frame), epoch_ms() - waited.count()};
  engine::Submission submission{std::move(bound.room), std::move(input), c->id, std::move(bound.handle)};
  engine_.submit(std::move(submission), [this, c, received, done = std::move(done)](engine::Outcome outcome) {
    if (!outcome.applied) reply(*c, proto::ErrorCode::server_busy);
    if (outcome.broadcast) {
      metrics_.broadcast_latency.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
    }
    done();
  });
}

void Node::process_join(const std::shared_ptr<Conn>& c, proto::Frame& frame,
                        std::chrono::steady_clock::time_point received, std::function<void()> done) {
  if (frame.field_error) {
    reply(*c, *frame.field_error);
    return done();
  }
  if (!engine_.can_commit()) {
    reply(*c, proto::ErrorCode::server_busy);
    return done();
  }
  auto& join = std::get<proto::Join>(frame.body);
  const std::string previous = bound_room(*c);
  std::string room_id = join.room_id;
  room::JoinInput input;
  input.conn = c->id;
  input.node_id = instance_;
  input.client_addr = c->addr;
  input.peer_id = c->peer_id;
  input.session_token = util::random_hex(16);
  input.pin_salt = room::pin_salt_for(room_id);
  input.same_socket_rejoin = previous == room_id;
  input.join = std::move(join);
  engine::Submission submission{room_id, std::move(input), c->id};
  const auto& pin = std::get<room::JoinInput>(submission.input).join.pin;
  if (!pin || std::get<room::JoinInput>(submission.input).join.pin_invalid) {
    return submit_join(c, std::move(submission), previous, received, std::move(done));
  }
  // PBKDF2 is slow on purpose (~0.7 ms): hashed on the PIN worker, so that no I/O thread, room
  // lock or engine thread waits for it. The JOIN goes to the engine from the worker.
  auto job = std::make_shared<engine::Submission>(std::move(submission));
  const bool queued = pin_worker_.try_post([this, c, job, previous, received, done]() mutable {
    auto& in = std::get<room::JoinInput>(job->input);
    try {
      in.pin_proof = room::hash_pin(*in.join.pin, in.pin_salt, config_.security.pin_secret);
    } catch (const std::exception& e) {
      spdlog::error("PIN hashing failed: {}", e.what());
      reply(*c, proto::ErrorCode::server_busy);
      return done();
    }
    submit_join(c, std::move(*job), std::move(previous), received, std::move(done));
  });
  if (!queued) {
    metrics_.pin_hash_refusals.inc();
    reply(*c, proto::ErrorCode::server_busy);
    return done();
  }
}

void Node::submit_join(const std::shared_ptr<Conn>& c, engine::Submission submission, std::string previous,
                       std::chrono::steady_clock::time_point received, std::function<void()> done) {
  std::string room_id = submission.room_id;
  engine_.submit(std::move(submission), [this, c, room_id, previous, received,
                                         done = std::move(done)](engine::Outcome outcome) mutable {
    if (!outcome.applied) {
      reply(*c, proto::ErrorCode::server_busy);
      return done();
    }
    if (outcome.broadcast) {
      metrics_.broadcast_latency.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
    }
    if (outcome.join == room::JoinOutcome::joined) {
      if (outcome.seated) {
        std::lock_guard lock(c->mutex);
        c->room = room_id;
        c->room_handle = std::move(outcome.room);
      }
      if (!previous.empty() && previous != room_id) {
        // A socket that switches rooms leaves the old one (docs/protocol.md §2, §10 "Room switch").
        engine_.submit(engine::Submission{previous, room::DisconnectInput{c->id, true}, c->id},
                       [done = std::move(done)](engine::Outcome) { done(); });
        return;
      }
    } else if (outcome.join == room::JoinOutcome::pin_rejected) {
      bool limit = false;
      {
        std::lock_guard lock(c->mutex);
        limit = ++c->pin_failures >= pin_attempts_;
        c->closing = c->closing || limit;
      }
      if (limit) c->ws->close(kClosePolicy, "too many PIN attempts");
    }
    done();
  });
}

void Node::reply(Conn& c, proto::ErrorCode code) {
  metrics_.errors.with(proto::code_name(code)).inc();
  metrics_.messages_out.inc();
  c.ws->send(std::make_shared<const std::string>(proto::error_frame(code)));
}

void Node::deliver(const engine::Delivery& delivery) {
  for (const auto& frame : delivery.frames) {
    const auto recipients = find_all(frame.to);  // one lock per frame, not per recipient
    for (const auto& c : recipients) c->ws->send(frame.text);
    if (recipients.empty()) continue;
    metrics_.messages_out.inc(recipients.size());
    metrics_.count_if_error(*frame.text);
  }
  for (const auto& close : delivery.closes) {
    if (auto c = find(close.conn)) c->ws->close(close.code, close.reason);
  }
  for (const auto& id : delivery.unbound) {
    // Only if still bound to this room: a socket switching rooms is bound to its new room
    // before it leaves the old one.
    if (auto c = find(id)) {
      std::lock_guard lock(c->mutex);
      if (c->room == delivery.room_id) {
        c->room.clear();
        c->room_handle.reset();
      }
    }
  }
}

}  // namespace tandem::node
