#include "core/cluster/node_impl.hpp"

namespace tandem::cluster {

ClusterNode::Impl::Impl(asio::io_context& net_io, const config::Config& config, metrics::Registry& registry)
    : net_io_(net_io),
      config_(config),
      settings_(make_settings(config)),
      node_id_(config.server.node_id),
      instance_(config.server.node_id + "~" + random_hex(3)),
      keys_(config.redis->key_prefix),
      channel_(keys_.node_channel(instance_)),
      audit_capacity_(static_cast<std::size_t>(config.audit.queue_capacity)),
      max_pending_frames_(std::max<std::size_t>(
          kMinPendingFrames, static_cast<std::size_t>(config.limits.msgs_burst + config.limits.msgs_per_sec))),
      node_ttl_(config.cluster.node_ttl),
      registry_(registry),
      link_wake_(rio_),
      pg_(*config.postgres, registry.counter("tandem_postgres_write_errors_total", "Failed PostgreSQL batches")),
      messages_in_(registry.counter_family("tandem_messages_in_total", "Client frames received, by type", "type")),
      messages_out_(registry.counter("tandem_messages_out_total", "Frames queued to clients")),
      errors_(registry.counter_family("tandem_errors_total", "ERROR frames sent, by code", "code")),
      broadcast_latency_(registry.histogram("tandem_broadcast_latency_seconds",
                                            "Time from receiving a frame to queuing its room broadcast on this node",
                                            metrics::latency_bounds())),
      delivery_latency_(registry.histogram("tandem_cluster_delivery_latency_seconds",
                                           "Time from a room change's commit to queuing its frames on this node",
                                           metrics::latency_bounds())),
      backend_errors_(registry.counter_family("tandem_backend_errors_total", "Backend failures, by backend", "backend")),
      dropped_position_updates_(registry.counter("tandem_dropped_position_updates_total",
                                                 "POSITION_UPDATE frames dropped silently for bad fields")),
      cas_retries_(registry.counter("tandem_cluster_cas_retries_total",
                                    "Room changes applied again after another node committed first")),
      resync_closes_(registry.counter("tandem_cluster_resync_closes_total",
                                      "Connections closed 1012 because they may have missed room frames")),
      nodes_lost_(registry.counter("tandem_cluster_nodes_lost_total", "Dead nodes this node cleaned up after")),
      audit_written_(registry.counter("tandem_audit_written_total", "Audit records copied to PostgreSQL")),
      overflow_drops_(registry.counter("tandem_pending_frame_drops_total",
                                       "Frames refused because the connection had too many unhandled frames")) {
  registry.gauge_fn("tandem_rooms", "Live rooms in the cluster (from the /status snapshot)",
                    [this] { return static_cast<double>(status_rooms_.load()); });
  registry.gauge_fn("tandem_local_rooms", "Rooms with members on this node",
                    [this] { return static_cast<double>(local_room_count_.load()); });
  registry.gauge_fn("tandem_audit_backlog", "Audit records in the Redis stream not yet written to PostgreSQL",
                    [this] { return static_cast<double>(backlog_.load()); });
  registry.gauge_fn("tandem_redis_up", "1 while this node is connected to Redis",
                    [this] { return link_up_.load() ? 1.0 : 0.0; });
  registry.gauge_fn("tandem_postgres_up", "1 while the last PostgreSQL write succeeded",
                    [this] { return pg_.healthy() ? 1.0 : 0.0; });
}

ClusterNode::Impl::~Impl() = default;

// ---- lifecycle -------------------------------------------------------------------------------

void ClusterNode::Impl::start() {
  cmd_ = std::make_unique<redis::Connection>(rio_);
  sub_ = std::make_unique<redis::Connection>(rio_);
  cmd_->on_disconnect([this](const redis::Failure& f) { link_lost(f.message); });
  sub_->on_disconnect([this](const redis::Failure& f) { link_lost(f.message); });
  work_.emplace(rio_.get_executor());
  spawn(link_loop(), "redis link");
  spawn(heartbeat_loop(), "heartbeat");
  spawn(watchdog_loop(), "Redis watchdog");
  spawn(dead_node_loop(), "dead node detection");
  spawn(deadline_loop(), "room deadlines");
  spawn(status_loop(), "status snapshot");
  spawn(backlog_loop(), "audit backlog");
  spawn(audit_loop(), "audit copier");
  rio_thread_ = std::thread([this] {
    for (;;) {
      try {
        rio_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("cluster: unexpected error on the Redis thread: {}", e.what());
      }
    }
  });
}

void ClusterNode::Impl::spawn(awaitable<void> task, const char* what) {
  asio::co_spawn(rio_, std::move(task), [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("cluster: {} failed: {}", what, ex.what());
    }
  });
}

awaitable<void> ClusterNode::Impl::leave_cluster(SteadyTime deadline, std::shared_ptr<std::promise<void>> done) {
  stopping_ = true;
  // Let the audit copier finish its batch and the room snapshots go out.
  while (audit_busy_ && std::chrono::steady_clock::now() < deadline) co_await sleep_for(20ms);
  if (!pending_snapshots_.empty() || !pending_short_ids_.empty()) {
    PgBatch batch;
    for (auto& [id, snap] : pending_snapshots_) batch.rooms.push_back(std::move(snap));
    pending_snapshots_.clear();
    batch.short_ids = std::exchange(pending_short_ids_, {});
    co_await async_pg_write(pg_, rio_, std::move(batch), use_awaitable);
  }
  if (link_up_.load()) {
    const auto left = co_await callv("SCARD", keys_.node_rooms(instance_));
    if (left.type == redis::Reply::Type::integer && left.integer == 0) {
      co_await callv("DEL", keys_.node(instance_), keys_.node_rooms(instance_));
      co_await callv("ZREM", keys_.nodes(), instance_);
    } else {
      spdlog::warn("cluster: members of this node remain in {} rooms; the other nodes remove them after {} ms",
                   left.integer, node_ttl_.count());
    }
  }
  done->set_value();
}

void ClusterNode::Impl::stop(std::chrono::milliseconds timeout) {
  if (!rio_thread_.joinable()) return;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  spawn(leave_cluster(deadline, done), "leave");
  if (finished.wait_until(deadline) != std::future_status::ready) {
    spdlog::warn("cluster: stop did not finish in time");
  }
  asio::post(rio_, [this] {
    stopping_ = true;
    link_wake_.cancel();
    if (cmd_) cmd_->close();
    if (sub_) sub_->close();
    work_.reset();
    rio_.stop();
  });
  rio_thread_.join();
  pg_.stop();
}

// ---- NodeView --------------------------------------------------------------------------------

std::size_t ClusterNode::Impl::presence(const std::string& room_id) {
  // Live from the room's /status summary in Redis (one HGET); the snapshot when Redis is away.
  if (link_up_.load()) {
    auto promise = std::make_shared<std::promise<std::optional<std::size_t>>>();
    auto result = promise->get_future();
    std::string room = room_id;
    spawn(lookup_presence(std::move(room), promise), "presence");
    if (result.wait_for(kHttpWait) == std::future_status::ready) {
      if (auto count = result.get()) return *count;
    }
  }
  std::shared_ptr<const std::unordered_map<std::string, std::size_t>> map;
  {
    std::lock_guard lock(presence_mutex_);
    map = presence_;
  }
  auto it = map->find(room_id);
  return it == map->end() ? 0 : it->second;
}

awaitable<void> ClusterNode::Impl::lookup_presence(std::string room_id,
                                                   std::shared_ptr<std::promise<std::optional<std::size_t>>> promise) {
  const auto reply = co_await callv("HGET", keys_.status(), room_id);
  if (reply.type == redis::Reply::Type::nil) {
    promise->set_value(std::size_t{0});
  } else if (reply.type == redis::Reply::Type::string) {
    try {
      promise->set_value(render_status_entry(reply.text, now_ms()).members);
    } catch (const std::exception&) {
      promise->set_value(std::nullopt);
    }
  } else {
    promise->set_value(std::nullopt);
  }
}

std::string ClusterNode::Impl::status_json(const std::string& mode, const std::string& client_addr) {
  const double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return status_.render(mode, client_addr, node_id_, engine::iso_time(now_ms()), uptime);
}

engine::NodeView::ShortIdResult ClusterNode::Impl::short_id(const std::string& room_id, const std::string& addr) {
  if (!link_up_.load()) return {};
  auto promise = std::make_shared<std::promise<engine::NodeView::ShortIdResult>>();
  auto result = promise->get_future();
  spawn(short_id_op(room_id, addr, promise), "short id");
  if (result.wait_for(kHttpWait) != std::future_status::ready) return {};
  return result.get();
}

awaitable<void> ClusterNode::Impl::short_id_op(std::string room_id, std::string addr,
                                               std::shared_ptr<std::promise<engine::NodeView::ShortIdResult>> promise) {
  const room::Millis now = now_ms();
  auto& mints = mints_by_addr_[addr];
  while (!mints.empty() && mints.front() <= now - 60'000) mints.pop_front();
  const bool may_mint = mints.size() < static_cast<std::size_t>(config_.limits.short_ids_per_minute);
  const std::int64_t ttl = config_.rooms.short_id_ttl.count();
  std::vector<std::string> args{"1", keys_.room_short_id(room_id), room_id, std::to_string(ttl),
                                keys_.short_id_prefix()};
  if (may_mint) {
    static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
    for (int n = 0; n < 4; ++n) {
      std::string id;
      for (int i = 0; i < 8; ++i) id += kAlphabet[pick(random_)];
      args.push_back(std::move(id));
    }
  }
  const auto reply = co_await eval(short_id_script(), std::move(args));
  engine::NodeView::ShortIdResult result;
  if (reply.type == redis::Reply::Type::array && reply.elements.size() == 2) {
    result.short_id = reply.elements[0].text;
    if (reply.elements[1].integer == 1) {
      mints.push_back(now);
      if (pending_short_ids_.size() < kMaxPendingShortIds) {
        pending_short_ids_.push_back(engine::ShortIdRecord{result.short_id, room_id, now, now + ttl});
      }
    }
    result.rate_limited = result.short_id.empty() && !may_mint;
  } else {
    backend_errors_.with("redis").inc();
  }
  if (mints.empty()) mints_by_addr_.erase(addr);
  promise->set_value(result);
}

awaitable<void> ClusterNode::Impl::lookup_short_id(std::string key,
                                                   std::shared_ptr<std::promise<std::optional<std::string>>> promise) {
  const auto reply = co_await callv("GET", std::move(key));
  if (reply.type == redis::Reply::Type::string) {
    promise->set_value(reply.text);
  } else {
    promise->set_value(std::nullopt);
  }
}

std::optional<std::string> ClusterNode::Impl::room_for_short_id(const std::string& short_id) {
  if (!link_up_.load()) return std::nullopt;
  auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
  auto result = promise->get_future();
  std::string key = keys_.short_id(short_id);
  spawn(lookup_short_id(std::move(key), promise), "short id lookup");
  if (result.wait_for(kHttpWait) != std::future_status::ready) return std::nullopt;
  return result.get();
}

// ---- net::Handler ----------------------------------------------------------------------------

void ClusterNode::Impl::opened(const std::shared_ptr<net::WsConnection>& ws) {
  auto c = std::make_shared<Conn>();
  c->ws = ws;
  c->id = instance_ + "/" + std::to_string(ws->id());
  c->addr = ws->client_addr();
  {
    std::unique_lock lock(conns_mutex_);
    conns_[ws->id()] = c;
  }
  asio::post(rio_, [this, c] { local_[c->id] = c; });
}

void ClusterNode::Impl::message(const std::shared_ptr<net::WsConnection>& ws, std::string_view text) {
  const auto received = std::chrono::steady_clock::now();
  std::shared_ptr<Conn> c;
  {
    std::shared_lock lock(conns_mutex_);
    if (auto it = conns_.find(ws->id()); it != conns_.end()) c = it->second;
  }
  if (!c) return;
  if (c->pending.fetch_add(1) >= max_pending_frames_) {
    c->pending.fetch_sub(1);
    overflow_drops_.inc();
    errors_.with(proto::code_name(proto::ErrorCode::server_busy)).inc();
    messages_out_.inc();
    ws->send(std::make_shared<const std::string>(proto::error_frame(proto::ErrorCode::server_busy)));
    return;
  }
  auto parsed = proto::parse(text);
  if (const auto* frame = std::get_if<proto::Frame>(&parsed)) {
    messages_in_.with(frame->type).inc();
  } else {
    messages_in_.with("invalid").inc();
  }
  active_items_.fetch_add(1);
  asio::post(rio_, [this, c, parsed = std::move(parsed), received]() mutable {
    c->queue.push_back(Conn::Item{false, std::move(parsed), received});
    kick(c);
  });
}

void ClusterNode::Impl::closed(const std::shared_ptr<net::WsConnection>& ws) {
  std::shared_ptr<Conn> c;
  {
    std::unique_lock lock(conns_mutex_);
    auto it = conns_.find(ws->id());
    if (it == conns_.end()) return;
    c = std::move(it->second);
    conns_.erase(it);
  }
  active_items_.fetch_add(1);
  asio::post(rio_, [this, c] {
    c->queue.push_back(Conn::Item{true, proto::ParseError{proto::ErrorCode::bad_json}, std::chrono::steady_clock::now()});
    kick(c);
  });
}

void ClusterNode::Impl::kick(const std::shared_ptr<Conn>& c) {
  if (c->running) return;
  c->running = true;
  spawn(conn_loop(c), "connection");
}

awaitable<void> ClusterNode::Impl::conn_loop(std::shared_ptr<Conn> c) {
  while (!c->queue.empty()) {
    Conn::Item item = std::move(c->queue.front());
    c->queue.pop_front();
    if (!item.closed) c->pending.fetch_sub(1);
    try {
      co_await handle_item(c, item);
    } catch (const std::exception& e) {
      spdlog::error("cluster: connection {}: {}", c->id, e.what());
    }
    active_items_.fetch_sub(1);
  }
  c->running = false;
}

void ClusterNode::Impl::reply(const std::shared_ptr<Conn>& c, proto::ErrorCode code) {
  errors_.with(proto::code_name(code)).inc();
  messages_out_.inc();
  if (auto ws = c->ws.lock()) ws->send(std::make_shared<const std::string>(proto::error_frame(code)));
}

void ClusterNode::Impl::send_local(const room::ConnId& id, const std::shared_ptr<const std::string>& text) {
  auto it = local_.find(id);
  if (it == local_.end()) return;
  if (auto ws = it->second->ws.lock()) {
    ws->send(text);
    messages_out_.inc();
  }
}

void ClusterNode::Impl::close_local(const room::ConnId& id, std::uint16_t code, const std::string& reason) {
  auto it = local_.find(id);
  if (it == local_.end()) return;
  if (auto ws = it->second->ws.lock()) ws->close(code, reason);
}

awaitable<void> ClusterNode::Impl::handle_item(std::shared_ptr<Conn> c, Conn::Item& item) {
  if (item.closed) {
    local_.erase(c->id);
    if (!c->room.empty()) {
      const std::string room_id = std::exchange(c->room, {});
      if (auto it = rooms_.find(room_id); it != rooms_.end()) it->second->local_bound.erase(c->id);
      room::Input input = room::DisconnectInput{c->id, false};
      const auto result = co_await room_op(room_id, std::move(input), nullptr, item.received);
      if (!result.ok) spawn(reconcile_room(room_id), "reconcile");
    }
    co_return;
  }
  if (auto* error = std::get_if<proto::ParseError>(&item.parsed)) {
    // §10 order of checks: not_joined comes before reserved_type.
    const bool unjoined_reserved = error->code == proto::ErrorCode::reserved_type && c->room.empty();
    reply(c, unjoined_reserved ? proto::ErrorCode::not_joined : error->code);
    co_return;
  }
  auto& frame = std::get<proto::Frame>(item.parsed);
  if (std::holds_alternative<proto::Ping>(frame.body)) {
    boost::json::object pong{{"type", "PONG"}, {"timestamp", now_ms()}};
    messages_out_.inc();
    if (auto ws = c->ws.lock()) ws->send(std::make_shared<const std::string>(boost::json::serialize(pong)));
    co_await refresh_seen(c, item.received);
    co_return;
  }
  if (std::holds_alternative<proto::Join>(frame.body)) {
    co_await handle_join(c, frame, item.received);
    co_return;
  }
  if (c->room.empty()) {
    reply(c, proto::ErrorCode::not_joined);
    co_return;
  }
  if (std::holds_alternative<proto::PositionUpdate>(frame.body) && frame.field_error) {
    dropped_position_updates_.inc();
    co_return;
  }
  const bool read_only = std::holds_alternative<proto::RequestSync>(frame.body) ||
                         std::holds_alternative<proto::Targeted>(frame.body) ||
                         std::holds_alternative<proto::PositionUpdate>(frame.body) ||
                         std::holds_alternative<proto::Ready>(frame.body);
  if (!link_up_.load() || (!read_only && busy())) {
    reply(c, proto::ErrorCode::server_busy);
    co_return;
  }
  room::Input input = room::FrameInput{c->id, instance_, std::move(frame)};
  const auto result = co_await room_op(c->room, std::move(input), c, item.received);
  if (!result.ok) reply(c, proto::ErrorCode::server_busy);
  co_await refresh_seen(c, item.received);
}

awaitable<void> ClusterNode::Impl::refresh_seen(std::shared_ptr<Conn> c, SteadyTime received) {
  // Strict identity judges a seat's holder by its last frame (limits.stale_after). Frames that
  // change nothing else are not committed, so the member's last_seen is committed on its own,
  // at most every stale_after / 4.
  if (!settings_.strict_identity || c->room.empty() || !link_up_.load()) co_return;
  const room::Millis now = now_ms();
  if (now - c->seen_committed < settings_.stale_after / 4) co_return;
  c->seen_committed = now;
  room::Input input = room::SeenInput{c->id};
  co_await room_op(c->room, std::move(input), nullptr, received);
}

awaitable<void> ClusterNode::Impl::handle_join(std::shared_ptr<Conn> c, proto::Frame& frame, SteadyTime received) {
  if (frame.field_error) {
    reply(c, *frame.field_error);
    co_return;
  }
  if (busy()) {
    reply(c, proto::ErrorCode::server_busy);
    co_return;
  }
  const auto& join = std::get<proto::Join>(frame.body);
  const std::string previous = c->room;
  room::JoinInput input;
  input.conn = c->id;
  input.node_id = instance_;
  input.client_addr = c->addr;
  input.join = join;
  input.peer_id = random_hex(8);
  input.session_token = random_hex(16);
  input.pin_salt = random_hex(16);
  input.same_socket_rejoin = previous == join.room_id;
  const std::string room_id = join.room_id;

  room::Input join_input = std::move(input);
  const auto result = co_await room_op(room_id, std::move(join_input), c, received);
  if (!result.ok) {
    reply(c, proto::ErrorCode::server_busy);
    co_return;
  }
  if (result.join == room::JoinOutcome::joined) {
    if (!previous.empty() && previous != room_id) {
      room::Input leave = room::DisconnectInput{c->id, true};
      co_await room_op(previous, std::move(leave), c, received);
    }
  } else if (result.join == room::JoinOutcome::pin_rejected) {
    record_pin_failure(c->addr);
    if (++c->pin_failures >= static_cast<std::size_t>(config_.limits.pin_attempts)) {
      if (auto ws = c->ws.lock()) ws->close(1008, "too many PIN attempts");
    }
  }
}

// ---- ClusterNode -----------------------------------------------------------------------------

ClusterNode::ClusterNode(boost::asio::io_context& io, const config::Config& config, metrics::Registry& registry) {
  if (!config.redis || !config.postgres) throw std::invalid_argument("cluster mode needs both [redis] and [postgres]");
  if (config.server.node_id.empty() || config.server.node_id.find('/') != std::string::npos) {
    throw std::invalid_argument("server.node_id must be non-empty and must not contain '/' in cluster mode");
  }
  impl_ = std::make_shared<Impl>(io, config, registry);
  api_ = std::make_unique<engine::HttpApi>(config, *this);
}

ClusterNode::~ClusterNode() { impl_->stop(std::chrono::seconds(5)); }

void ClusterNode::start() { impl_->start(); }
void ClusterNode::set_draining() { impl_->set_draining(); }
bool ClusterNode::idle() const { return impl_->idle(); }
void ClusterNode::stop(std::chrono::milliseconds timeout) { impl_->stop(timeout); }
const std::string& ClusterNode::instance_id() const { return impl_->instance(); }
const std::string& ClusterNode::node_id() const { return impl_->node_id(); }
bool ClusterNode::ready() const { return impl_->ready(); }
std::size_t ClusterNode::presence(const std::string& room_id) { return impl_->presence(room_id); }
std::string ClusterNode::status_json(const std::string& mode, const std::string& client_addr) {
  return impl_->status_json(mode, client_addr);
}
engine::NodeView::ShortIdResult ClusterNode::short_id(const std::string& room_id, const std::string& client_addr) {
  return impl_->short_id(room_id, client_addr);
}
std::optional<std::string> ClusterNode::room_for_short_id(const std::string& short_id) {
  return impl_->room_for_short_id(short_id);
}
std::string ClusterNode::metrics_text() { return impl_->metrics_text(); }

net::HttpResponse ClusterNode::http(const net::HttpRequest& request) { return api_->handle(request); }

std::optional<net::HttpResponse> ClusterNode::admit(const net::HttpRequest&) {
  if (!impl_->ready()) return net::HttpResponse{503, "text/plain; charset=utf-8", "Not ready\n", {}};
  return std::nullopt;
}

void ClusterNode::opened(const std::shared_ptr<net::WsConnection>& conn) { impl_->opened(conn); }
void ClusterNode::message(const std::shared_ptr<net::WsConnection>& conn, std::string_view text) {
  impl_->message(conn, text);
}
void ClusterNode::closed(const std::shared_ptr<net::WsConnection>& conn) { impl_->closed(conn); }

}  // namespace tandem::cluster

