#include "core/engine/node.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "core/proto/error_code.hpp"

namespace tandem::engine {

namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(100);
constexpr auto kStatusInterval = std::chrono::milliseconds(1000);
constexpr room::Millis kPinWindow = 60'000;
constexpr room::Millis kSnapshotInterval = 1'000;

room::Settings make_settings(const config::Config& c) {
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

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char b : buf) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

bool is_error_frame(const boost::json::object& frame, std::string& code) {
  const auto* type = frame.if_contains("type");
  if (!type || !type->is_string() || type->get_string() != "ERROR") return false;
  if (const auto* c = frame.if_contains("code"); c && c->is_string()) code = std::string(c->get_string());
  return true;
}

}  // namespace

Node::Node(boost::asio::io_context& io, const config::Config& config, Journal& journal, metrics::Registry& registry)
    : io_(io),
      config_(config),
      settings_(make_settings(config)),
      node_id_(config.server.node_id),
      journal_(journal),
      started_(std::chrono::steady_clock::now()),
      short_ids_(config.rooms.short_id_ttl.count(), static_cast<std::size_t>(config.limits.short_ids_per_minute)),
      registry_(registry),
      api_(config, *this),
      tick_timer_(io),
      messages_in_(registry.counter_family("tandem_messages_in_total", "Client frames received, by type", "type")),
      messages_out_(registry.counter("tandem_messages_out_total", "Frames queued to clients")),
      errors_(registry.counter_family("tandem_errors_total", "ERROR frames sent, by code", "code")),
      broadcast_latency_(registry.histogram("tandem_broadcast_latency_seconds",
                                            "Time from receiving a frame to queuing its room broadcast to every member",
                                            metrics::latency_bounds())),
      backend_errors_(registry.counter_family("tandem_backend_errors_total", "Backend failures, by backend", "backend")),
      dropped_position_updates_(registry.counter("tandem_dropped_position_updates_total",
                                                 "POSITION_UPDATE frames dropped silently for bad fields")) {
  registry.gauge_fn("tandem_rooms", "Rooms held by this node", [this] { return static_cast<double>(room_count()); });
  registry.gauge_fn("tandem_audit_backlog", "Audit events not yet written to the database",
                    [this] { return static_cast<double>(journal_.backlog()); });
  registry.gauge_fn("tandem_short_ids", "Live short ids", [this] { return static_cast<double>(short_ids_.size()); });
}

Node::~Node() = default;

room::ConnId Node::conn_id(const net::WsConnection& conn) const {
  return node_id_ + "/" + std::to_string(conn.id());
}

room::Millis Node::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::size_t Node::room_count() const {
  std::lock_guard lock(rooms_mutex_);
  return rooms_.size();
}

void Node::start() {
  const room::Millis now = now_ms();
  std::size_t restored = 0;
  for (auto& snapshot : journal_.load_unarchived_rooms()) {
    try {
      auto slot = std::make_shared<RoomSlot>();
      slot->state = room::from_json(boost::json::parse(snapshot.document));
      // Connections of the previous process are gone: remove their members as a lost node would.
      std::set<std::string> nodes;
      for (const auto& m : slot->state.members) nodes.insert(m.node_id);
      for (const auto& n : nodes) {
        auto effects = room::apply(slot->state, room::NodeLostInput{n}, now, settings_);
        if (!effects.audit.empty()) journal_.append(node_id_, std::move(effects.audit));
      }
      if (slot->state.archived || !slot->state.exists) continue;
      persist(*slot, now);
      std::lock_guard lock(rooms_mutex_);
      rooms_[slot->state.room_id] = std::move(slot);
      ++restored;
    } catch (const std::exception& e) {
      spdlog::warn("room {} not restored: {}", snapshot.room_id, e.what());
    }
  }
  short_ids_.load(journal_.load_short_ids(now));
  if (restored > 0) spdlog::info("restored {} rooms from the previous run", restored);
  ready_.store(true);
  rebuild_status();
  schedule_tick();
}

bool Node::ready() const { return ready_.load() && journal_.healthy(); }

net::HttpResponse Node::http(const net::HttpRequest& request) { return api_.handle(request); }

std::size_t Node::presence(const std::string& room_id) {
  std::shared_ptr<RoomSlot> slot;
  {
    std::lock_guard lock(rooms_mutex_);
    if (auto it = rooms_.find(room_id); it != rooms_.end()) slot = it->second;
  }
  if (!slot) return 0;
  std::lock_guard lock(slot->mutex);
  return slot->removed ? 0 : slot->state.members.size();
}

std::string Node::status_json(const std::string& mode, const std::string& client_addr) {
  const double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return status_.render(mode, client_addr, node_id_, iso_time(now_ms()), uptime);
}

NodeView::ShortIdResult Node::short_id(const std::string& room_id, const std::string& client_addr) {
  auto result = short_ids_.get_or_mint(room_id, client_addr, now_ms());
  if (result.minted) journal_.put_short_id(*result.minted);
  return ShortIdResult{result.short_id, result.rate_limited};
}

std::optional<std::string> Node::room_for_short_id(const std::string& short_id) {
  return short_ids_.room_for(short_id, now_ms());
}

std::string Node::metrics_text() { return registry_.render(); }

void Node::set_draining() { ready_.store(false); }

void Node::stop() {
  boost::asio::post(tick_timer_.get_executor(), [this] { tick_timer_.cancel(); });
}

std::optional<net::HttpResponse> Node::admit(const net::HttpRequest&) {
  if (!ready_.load()) return net::HttpResponse{503, "text/plain; charset=utf-8", "Not ready\n", {}};
  return std::nullopt;
}

void Node::opened(const std::shared_ptr<net::WsConnection>& conn) {
  std::unique_lock lock(conns_mutex_);
  conns_[conn_id(*conn)] = ConnEntry{conn, {}, 0};
}

void Node::closed(const std::shared_ptr<net::WsConnection>& conn) {
  const auto id = conn_id(*conn);
  std::string room_id;
  {
    std::unique_lock lock(conns_mutex_);
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    room_id = std::move(it->second.room_id);
    conns_.erase(it);
  }
  if (!room_id.empty()) apply(room_id, room::DisconnectInput{id, false}, false, std::chrono::steady_clock::now());
}

void Node::reply(const std::shared_ptr<net::WsConnection>& conn, proto::ErrorCode code) {
  errors_.with(proto::code_name(code)).inc();
  messages_out_.inc();
  conn->send(std::make_shared<const std::string>(proto::error_frame(code)));
}

void Node::message(const std::shared_ptr<net::WsConnection>& conn, std::string_view text) {
  const auto received = std::chrono::steady_clock::now();
  auto parsed = proto::parse(text);
  std::string bound_room;
  {
    std::shared_lock lock(conns_mutex_);
    if (auto it = conns_.find(conn_id(*conn)); it != conns_.end()) bound_room = it->second.room_id;
  }
  if (auto* error = std::get_if<proto::ParseError>(&parsed)) {
    messages_in_.with("invalid").inc();
    // §10 order of checks: not_joined comes before reserved_type.
    const bool unjoined_reserved = error->code == proto::ErrorCode::reserved_type && bound_room.empty();
    reply(conn, unjoined_reserved ? proto::ErrorCode::not_joined : error->code);
    return;
  }
  auto& frame = std::get<proto::Frame>(parsed);
  messages_in_.with(frame.type).inc();

  if (std::holds_alternative<proto::Ping>(frame.body) && bound_room.empty()) {
    // A member's PING goes through the room, which answers PONG and refreshes its presence.
    boost::json::object pong{{"type", "PONG"}, {"timestamp", now_ms()}};
    messages_out_.inc();
    conn->send(std::make_shared<const std::string>(boost::json::serialize(pong)));
    return;
  }
  if (std::holds_alternative<proto::Join>(frame.body)) {
    handle_join(conn, frame);
    return;
  }
  if (bound_room.empty()) {
    reply(conn, proto::ErrorCode::not_joined);
    return;
  }
  if (std::holds_alternative<proto::PositionUpdate>(frame.body) && frame.field_error) {
    dropped_position_updates_.inc();
    return;
  }
  const bool read_only = std::holds_alternative<proto::RequestSync>(frame.body) ||
                         std::holds_alternative<proto::Targeted>(frame.body) ||
                         std::holds_alternative<proto::PositionUpdate>(frame.body) ||
                         std::holds_alternative<proto::Ready>(frame.body);
  if (!read_only && journal_.backlog() >= journal_.capacity()) {
    reply(conn, proto::ErrorCode::server_busy);
    return;
  }
  apply(bound_room, room::FrameInput{conn_id(*conn), node_id_, std::move(frame)}, false, received);
}

void Node::handle_join(const std::shared_ptr<net::WsConnection>& conn, proto::Frame& frame) {
  const auto received = std::chrono::steady_clock::now();
  if (frame.field_error) {
    reply(conn, *frame.field_error);
    return;
  }
  const auto id = conn_id(*conn);
  const auto& join = std::get<proto::Join>(frame.body);
  std::string current_room;
  {
    std::shared_lock lock(conns_mutex_);
    if (auto it = conns_.find(id); it != conns_.end()) current_room = it->second.room_id;
  }
  if (journal_.backlog() >= journal_.capacity()) {
    reply(conn, proto::ErrorCode::server_busy);
    return;
  }
  const room::Millis now = now_ms();
  room::JoinInput input;
  input.conn = id;
  input.node_id = node_id_;
  input.client_addr = conn->client_addr();
  input.join = join;
  input.peer_id = random_hex(8);
  input.session_token = random_hex(16);
  input.pin_salt = random_hex(16);
  input.addr_blocked = address_blocked(conn->client_addr(), now);
  input.same_socket_rejoin = current_room == join.room_id;
  const std::string room_id = join.room_id;

  auto effects = apply(room_id, input, true, received);

  if (effects.replaced_conn) {
    std::unique_lock lock(conns_mutex_);
    if (auto it = conns_.find(*effects.replaced_conn); it != conns_.end() && it->second.room_id == room_id) {
      it->second.room_id.clear();
    }
  }
  if (effects.join == room::JoinOutcome::joined) {
    {
      std::unique_lock lock(conns_mutex_);
      if (auto it = conns_.find(id); it != conns_.end()) it->second.room_id = room_id;
    }
    if (!current_room.empty() && current_room != room_id) {
      apply(current_room, room::DisconnectInput{id, true}, false, received);
    }
  } else if (effects.join == room::JoinOutcome::pin_rejected) {
    record_pin_failure(conn->client_addr(), now);
    std::size_t failures = 0;
    {
      std::unique_lock lock(conns_mutex_);
      if (auto it = conns_.find(id); it != conns_.end()) failures = ++it->second.pin_failures;
    }
    if (failures >= static_cast<std::size_t>(config_.limits.pin_attempts)) {
      conn->close(1008, "too many PIN attempts");
    }
  }
}

room::Effects Node::apply(const std::string& room_id, const room::Input& input, bool create,
                          std::chrono::steady_clock::time_point received) {
  for (;;) {
    std::shared_ptr<RoomSlot> slot;
    {
      std::lock_guard lock(rooms_mutex_);
      auto it = rooms_.find(room_id);
      if (it != rooms_.end()) {
        slot = it->second;
      } else if (create) {
        slot = std::make_shared<RoomSlot>();
        slot->state.room_id = room_id;
        rooms_.emplace(room_id, slot);
      } else {
        return {};
      }
    }
    std::lock_guard room_lock(slot->mutex);
    if (slot->removed) continue;  // archived between lookup and lock: look again
    const room::Millis now = std::max(now_ms(), slot->state.last_activity);
    auto effects = room::apply(slot->state, input, now, settings_);
    deliver(*slot, effects, received);
    // Snapshots: at every broadcast (seq moved) or archive, otherwise at most once per
    // kSnapshotInterval (position and presence updates arrive several times a second).
    if (effects.archived || (effects.changed && (slot->state.seq != slot->persisted_seq ||
                                                 now - slot->persisted_at >= kSnapshotInterval))) {
      persist(*slot, now);
    }
    if (effects.archived || !slot->state.exists) {
      slot->removed = true;
      std::lock_guard lock(rooms_mutex_);
      if (auto it = rooms_.find(room_id); it != rooms_.end() && it->second == slot) rooms_.erase(it);
    }
    return effects;
  }
}

void Node::deliver(RoomSlot& slot, room::Effects& effects, std::chrono::steady_clock::time_point received) {
  bool broadcast = false;
  for (const auto& out : effects.frames) {
    auto text = std::make_shared<const std::string>(boost::json::serialize(out.frame));
    std::string code;
    if (is_error_frame(out.frame, code)) errors_.with(code).inc();
    for (const auto& r : out.recipients) send_to(r, text);
    messages_out_.inc(out.recipients.size());
    broadcast = broadcast || out.sequenced;
  }
  if (broadcast) {
    broadcast_latency_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
  }
  for (const auto& c : effects.closes) {
    std::shared_ptr<net::WsConnection> conn;
    {
      std::shared_lock lock(conns_mutex_);
      if (auto it = conns_.find(c.conn); it != conns_.end()) conn = it->second.conn.lock();
    }
    if (conn) conn->close(c.code, c.reason);
  }
  if (effects.unbound_conn) {
    // Only if the connection is still bound to this room: a socket switching rooms is already
    // bound to its new room when it leaves the old one.
    std::unique_lock lock(conns_mutex_);
    if (auto it = conns_.find(*effects.unbound_conn); it != conns_.end() && it->second.room_id == slot.state.room_id) {
      it->second.room_id.clear();
    }
  }
  if (!effects.audit.empty()) journal_.append(node_id_, std::move(effects.audit));
}

void Node::send_to(const room::ConnId& id, const std::shared_ptr<const std::string>& frame) {
  std::shared_ptr<net::WsConnection> conn;
  {
    std::shared_lock lock(conns_mutex_);
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    conn = it->second.conn.lock();
  }
  if (conn) conn->send(frame);
}

void Node::persist(RoomSlot& slot, room::Millis now) {
  const auto& s = slot.state;
  if (!s.exists) return;
  slot.persisted_seq = s.seq;
  slot.persisted_at = now;
  RoomSnapshot snap;
  snap.room_id = s.room_id;
  snap.state = s.archived ? "archived" : (s.members.empty() ? "idle" : "live");
  snap.host_user_id = s.host_user_id;
  snap.url = s.url;
  snap.current_time = room::position_at(s, now);
  snap.is_playing = s.is_playing;
  snap.guest_control = s.guest_control;
  snap.member_count = static_cast<std::int64_t>(s.members.size());
  snap.seq = s.seq;
  snap.created_at = s.created_at;
  snap.last_activity = now;
  snap.document = boost::json::serialize(room::to_json(s));
  journal_.put_room(std::move(snap));
}

bool Node::address_blocked(const std::string& addr, room::Millis now) {
  std::lock_guard lock(pin_mutex_);
  auto it = pin_failures_by_addr_.find(addr);
  if (it == pin_failures_by_addr_.end()) return false;
  auto& times = it->second;
  while (!times.empty() && times.front() <= now - kPinWindow) times.pop_front();
  return times.size() >= static_cast<std::size_t>(config_.limits.pin_attempts_per_ip_minute);
}

void Node::record_pin_failure(const std::string& addr, room::Millis now) {
  std::lock_guard lock(pin_mutex_);
  auto& times = pin_failures_by_addr_[addr];
  times.push_back(now);
  // Bounded: only the last `limit` failures matter for the decision.
  while (times.size() > static_cast<std::size_t>(config_.limits.pin_attempts_per_ip_minute)) times.pop_front();
}

void Node::schedule_tick() {
  tick_timer_.expires_after(kTickInterval);
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    try {
      tick();
    } catch (const std::exception& e) {
      spdlog::error("room timer: {}", e.what());
    }
    schedule_tick();
  });
}

void Node::tick() {
  std::vector<std::shared_ptr<RoomSlot>> slots;
  {
    std::lock_guard lock(rooms_mutex_);
    slots.reserve(rooms_.size());
    for (const auto& [id, slot] : rooms_) slots.push_back(slot);
  }
  const room::Millis now = now_ms();
  for (const auto& slot : slots) {
    std::optional<room::Millis> due;
    {
      std::lock_guard lock(slot->mutex);
      if (slot->removed) continue;
      due = room::next_deadline(slot->state);
    }
    if (due && *due <= now) {
      apply(slot->state.room_id, room::TickInput{}, false, std::chrono::steady_clock::now());
    }
  }
  const auto steady_now = std::chrono::steady_clock::now();
  if (steady_now - last_status_build_ >= kStatusInterval) {
    last_status_build_ = steady_now;
    rebuild_status();
    short_ids_.prune(now);
    std::lock_guard lock(pin_mutex_);
    for (auto it = pin_failures_by_addr_.begin(); it != pin_failures_by_addr_.end();) {
      while (!it->second.empty() && it->second.front() <= now - kPinWindow) it->second.pop_front();
      it = it->second.empty() ? pin_failures_by_addr_.erase(it) : std::next(it);
    }
  }
}

void Node::rebuild_status() {
  std::vector<std::shared_ptr<RoomSlot>> slots;
  {
    std::lock_guard lock(rooms_mutex_);
    slots.reserve(rooms_.size());
    for (const auto& [id, slot] : rooms_) slots.push_back(slot);
  }
  const room::Millis now = now_ms();
  std::vector<RoomSummary> summaries;
  summaries.reserve(slots.size());
  std::size_t local_rooms = 0;
  for (const auto& slot : slots) {
    std::lock_guard lock(slot->mutex);
    const auto& s = slot->state;
    if (slot->removed || !s.exists) continue;
    if (!s.members.empty()) {
      ++local_rooms;
      if (auto record = short_ids_.keep_alive(s.room_id, now)) journal_.put_short_id(*record);
    }
    boost::json::array users;
    RoomSummary summary;
    for (const auto& m : s.members) {
      users.push_back(boost::json::object{
          {"userId", m.user_id},
          {"username", m.username ? boost::json::value(*m.username) : boost::json::value(nullptr)}});
      summary.addrs.push_back(m.client_addr);
    }
    boost::json::object room{{"roomId", s.room_id},
                             {"connectionCount", s.members.size()},
                             {"currentTime", room::position_at(s, now)},
                             {"isPlaying", s.is_playing},
                             {"currentUrl", s.url},
                             {"hostUserId", s.host_user_id},
                             {"users", std::move(users)}};
    summary.json = boost::json::serialize(room);
    summaries.push_back(std::move(summary));
  }
  std::size_t local_connections = 0;
  {
    std::shared_lock lock(conns_mutex_);
    local_connections = conns_.size();
  }
  status_.publish(std::move(summaries), local_connections, local_rooms);
}

}  // namespace tandem::engine
