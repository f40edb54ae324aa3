#include "core/cluster/node_impl.hpp"

namespace tandem::cluster {

// ---- Redis link ------------------------------------------------------------------------------

awaitable<redis::Reply> ClusterNode::Impl::call(std::vector<std::string> args) {
  co_return co_await async_command(*cmd_, std::move(args), use_awaitable);
}

awaitable<redis::Reply> ClusterNode::Impl::eval(const Script& script, std::vector<std::string> args) {
  std::vector<std::string> full{"EVALSHA", script.sha1};
  full.insert(full.end(), args.begin(), args.end());
  auto reply = co_await call(full);
  if (reply.type == redis::Reply::Type::error && reply.text.starts_with("NOSCRIPT")) {
    full[0] = "EVAL";
    full[1] = std::string(script.source);
    reply = co_await call(std::move(full));
  }
  co_return reply;
}

void ClusterNode::Impl::fire(std::vector<std::string> args) {
  cmd_->command(std::move(args), [this](redis::Reply reply) {
    if (reply.is_error()) backend_errors_.with("redis").inc();
  });
}

redis::ConnectOptions ClusterNode::Impl::connect_options() const {
  redis::ConnectOptions o;
  o.host = config_.redis->host;
  o.port = config_.redis->port;
  o.password = config_.redis->password;
  o.db = config_.redis->db;
  o.timeout = config_.redis->connect_timeout;
  return o;
}

void ClusterNode::Impl::link_lost(const std::string& why) {
  if (link_up_.exchange(false)) {
    ready_.store(false);
    backend_errors_.with("redis").inc();
    spdlog::error("cluster: lost Redis ({}); reconnecting", why);
  }
  cmd_->close();
  sub_->close();
  link_wake_.cancel();
}

awaitable<void> ClusterNode::Impl::link_loop() {
  auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectMin);
  bool logged = false;
  while (!stopping_) {
    if (!link_up_.load()) {
      if (!co_await establish()) {
        if (!logged) spdlog::warn("cluster: Redis not reachable at {}:{}; retrying", config_.redis->host, config_.redis->port);
        logged = true;
        co_await sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectMax));
        continue;
      }
      logged = false;
      backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectMin);
    }
    link_wake_.expires_at(SteadyTime::max());
    co_await link_wake_.async_wait(asio::as_tuple(use_awaitable));
  }
}

awaitable<bool> ClusterNode::Impl::establish() {
  cmd_->close();
  sub_->close();
  if (auto failure = co_await async_connect(*cmd_, connect_options(), use_awaitable)) co_return false;
  if (auto failure = co_await async_connect(*sub_, connect_options(), use_awaitable)) {
    cmd_->close();
    co_return false;
  }
  for (const Script* s : {&commit_script(), &seed_script(), &forget_script(), &short_id_script()}) {
    fire({"SCRIPT", "LOAD", std::string(s->source)});
  }
  // The epoch tells whether Redis kept its data since this node last saw it.
  auto epoch = co_await callv("GET", keys_.epoch());
  if (epoch.type == redis::Reply::Type::nil) {
    co_await callv("SET", keys_.epoch(), random_hex(8), "NX");
    epoch = co_await callv("GET", keys_.epoch());
  }
  if (epoch.type != redis::Reply::Type::string) co_return false;
  const bool data_lost = !epoch_.empty() && epoch.text != epoch_;
  epoch_ = epoch.text;
  const auto group = co_await callv("XGROUP", "CREATE", keys_.audit(), kGroup, "0", "MKSTREAM");
  if (group.type == redis::Reply::Type::failure) co_return false;
  const auto subscribed = co_await async_subscribe(
      *sub_, channel_, [this](const redis::Message& m) { on_envelope(m); }, use_awaitable);
  if (subscribed.is_error()) co_return false;
  const room::Millis now = now_ms();
  const auto ttl = std::to_string(node_ttl_.count() * 6 / 10);
  co_await callv("SET", keys_.node(instance_), node_id_, "PX", ttl);
  co_await callv("ZADD", keys_.nodes(), std::to_string(now + node_ttl_.count()), instance_);
  const bool first = !registered_;
  registered_ = true;
  link_up_.store(true);
  if (!draining_.load()) ready_.store(true);
  if (first) {
    spdlog::info("cluster: node {} joined (Redis {}:{} db {}, prefix \"{}\")", instance_, config_.redis->host,
                 config_.redis->port, config_.redis->db, keys_.prefix());
  } else {
    spdlog::info("cluster: Redis is back{}; resynchronising {} rooms", data_lost ? " without its data" : "",
                 rooms_.size());
    spawn(after_connect(data_lost), "resync");
  }
  co_return true;
}

awaitable<void> ClusterNode::Impl::after_connect(bool data_lost) {
  if (data_lost) {
    // Audit records of the last minutes may not have reached PostgreSQL: send them again
    // (event_uid makes the copy idempotent).
    for (const auto& entry : redo_) {
      std::vector<std::string> args{"XADD", keys_.audit(), "*"};
      args.insert(args.end(), entry.fields.begin(), entry.fields.end());
      fire(std::move(args));
    }
    if (!redo_.empty()) spdlog::warn("cluster: re-queued {} recent audit records", redo_.size());
  }
  std::vector<std::shared_ptr<RoomEntry>> entries;
  for (const auto& [id, r] : rooms_) entries.push_back(r);
  for (const auto& r : entries) {
    co_await lock(r);
    if (data_lost && r->loaded && r->state.exists && !r->local_bound.empty()) {
      const std::string state = boost::json::serialize(room::to_json(r->state));
      std::vector<std::string> args = seed_arguments(keys_, r->id, r->version, state, member_nodes(r->state),
                                                     room::next_deadline(r->state), status_summary(r->state));
      co_await eval(seed_script(), std::move(args));
    }
    const std::optional<std::uint64_t> delivered = r->delivered;
    if (co_await load(*r)) {
      if (delivered && *delivered != r->version) resync_entry(*r, "changed while Redis was unreachable");
    } else {
      r->loaded = false;
    }
    for (auto& [version, timer] : r->waiters) timer->cancel();
    unlock(*r);
    maybe_drop(r);
  }
  // Rooms where this node's members may be left over (a disconnect that could not be committed).
  const auto index = co_await callv("SMEMBERS", keys_.node_rooms(instance_));
  std::unordered_set<std::string> rooms;
  for (const auto& e : index.elements) rooms.insert(e.text);
  for (const auto& [id, r] : rooms_) rooms.insert(id);
  for (const auto& id : rooms) co_await reconcile_room(id);
}

// ---- loops -----------------------------------------------------------------------------------

awaitable<void> ClusterNode::Impl::heartbeat_loop() {
  const auto interval = std::max<std::chrono::milliseconds>(node_ttl_ / 5, 50ms);
  const auto ttl = std::to_string(std::max<std::int64_t>(node_ttl_.count() * 6 / 10, 1));
  while (!stopping_) {
    co_await sleep_for(interval);
    if (stopping_ || !link_up_.load()) continue;
    const room::Millis now = now_ms();
    heartbeat_sent_ = std::chrono::steady_clock::now();
    heartbeat_pending_ = true;
    const auto previous = co_await callv("SET", keys_.node(instance_), node_id_, "PX", ttl, "GET");
    heartbeat_pending_ = false;
    co_await callv("ZADD", keys_.nodes(), std::to_string(now + node_ttl_.count()), instance_);
    if (previous.type == redis::Reply::Type::nil && registered_ && link_up_.load()) {
      // Our key expired: other nodes may have removed our members. Check every room we serve.
      spdlog::warn("cluster: this node's liveness key had expired; checking its rooms");
      spawn(recheck_rooms(), "room check");
    }
  }
}

awaitable<void> ClusterNode::Impl::watchdog_loop() {
  // A Redis that accepts the connection but stops answering (stopped process, network lost
  // without a reset) is treated as lost when a liveness refresh waits longer than
  // redis.connect_timeout. This loop never waits for Redis itself.
  const auto timeout = config_.redis->connect_timeout;
  while (!stopping_) {
    co_await sleep_for(std::max<std::chrono::milliseconds>(timeout / 4, 50ms));
    if (link_up_.load() && heartbeat_pending_ && std::chrono::steady_clock::now() - heartbeat_sent_ > timeout) {
      link_lost("no answer within " + std::to_string(timeout.count()) + " ms");
    }
  }
}

awaitable<void> ClusterNode::Impl::recheck_rooms() {
  std::vector<std::string> ids;
  for (const auto& [id, r] : rooms_) ids.push_back(id);
  for (const auto& id : ids) co_await reconcile_room(id);
}

awaitable<void> ClusterNode::Impl::dead_node_loop() {
  const auto interval = std::max<std::chrono::milliseconds>(node_ttl_ / 10, 100ms);
  while (!stopping_) {
    co_await sleep_for(interval);
    if (stopping_ || !link_up_.load()) continue;
    const auto due = co_await callv("ZRANGEBYSCORE", keys_.nodes(), "-inf", std::to_string(now_ms()), "LIMIT", "0", "16");
    for (const auto& e : due.elements) {
      const std::string node = e.text;
      if (node == instance_ || cleaning_nodes_.count(node) != 0) continue;
      const auto alive = co_await callv("EXISTS", keys_.node(node));
      if (alive.type != redis::Reply::Type::integer || alive.integer != 0) continue;
      const auto locked = co_await callv("SET", keys_.node_lock(node), instance_, "NX", "PX",
                                         std::to_string(std::max<std::int64_t>(node_ttl_.count(), 1000)));
      if (locked.type != redis::Reply::Type::status) continue;
      cleaning_nodes_.insert(node);
      spawn(cleanup_node(node), "dead node cleanup");
    }
  }
}

awaitable<void> ClusterNode::Impl::cleanup_node(std::string node) {
  const auto index = co_await callv("SMEMBERS", keys_.node_rooms(node));
  std::size_t rooms = 0;
  bool ok = index.type == redis::Reply::Type::array;
  for (const auto& e : index.elements) {
    room::Input input = room::NodeLostInput{node};
    const auto result = co_await room_op(e.text, std::move(input), nullptr, std::chrono::steady_clock::now());
    ok = ok && result.ok;
    ++rooms;
  }
  if (ok) {
    co_await callv("DEL", keys_.node_rooms(node));
    co_await callv("ZREM", keys_.nodes(), node);
    nodes_lost_.inc();
    spdlog::warn("cluster: node {} is gone; removed its members from {} rooms", node, rooms);
  }
  co_await callv("DEL", keys_.node_lock(node));
  cleaning_nodes_.erase(node);
}

awaitable<void> ClusterNode::Impl::deadline_loop() {
  while (!stopping_) {
    co_await sleep_for(kTickInterval);
    if (stopping_ || !link_up_.load()) continue;
    const room::Millis now = now_ms();
    const auto due = co_await callv("ZRANGEBYSCORE", keys_.deadlines(), "-inf", std::to_string(now), "WITHSCORES",
                                    "LIMIT", "0", std::to_string(kTicksPerRound));
    for (std::size_t i = 0; i + 1 < due.elements.size(); i += 2) {
      const std::string& room_id = due.elements[i].text;
      const room::Millis at = static_cast<room::Millis>(std::stoll(due.elements[i + 1].text));
      auto it = rooms_.find(room_id);
      const bool member_here = it != rooms_.end() && !it->second->local_bound.empty();
      if (it != rooms_.end() && it->second->ticking) continue;
      if (!member_here && now - at < kForeignTickDelay) continue;
      auto r = entry(room_id);
      r->ticking = true;
      spawn(tick_room(room_id), "room tick");
    }
  }
}

awaitable<void> ClusterNode::Impl::tick_room(std::string room_id) {
  room::Input input = room::TickInput{};
  const auto result = co_await room_op(room_id, std::move(input), nullptr, std::chrono::steady_clock::now());
  auto r = entry(room_id);
  if (result.ok && r->loaded && !r->state.exists) {
    // A deadline entry of a room that is gone: forget it (unless the room exists again).
    std::vector<std::string> args{"3", keys_.room(room_id), keys_.deadlines(), keys_.status(), room_id};
    co_await eval(forget_script(), std::move(args));
  }
  r->ticking = false;
  maybe_drop(r);
}

awaitable<void> ClusterNode::Impl::status_loop() {
  while (!stopping_) {
    if (link_up_.load()) {
      std::vector<std::string> summaries;
      std::string cursor = "0";
      bool ok = true;
      do {
        const auto page = co_await callv("HSCAN", keys_.status(), cursor, "COUNT", std::to_string(kStatusScanCount));
        if (page.type != redis::Reply::Type::array || page.elements.size() != 2) {
          ok = false;
          break;
        }
        cursor = page.elements[0].text;
        const auto& items = page.elements[1].elements;
        for (std::size_t i = 1; i < items.size(); i += 2) summaries.push_back(items[i].text);
      } while (cursor != "0");
      std::size_t local_rooms = 0;
      for (const auto& [id, r] : rooms_) local_rooms += r->local_bound.empty() ? 0 : 1;
      const room::Millis minute_ago = now_ms() - 60'000;
      for (auto it = mints_by_addr_.begin(); it != mints_by_addr_.end();) {
        while (!it->second.empty() && it->second.front() <= minute_ago) it->second.pop_front();
        it = it->second.empty() ? mints_by_addr_.erase(it) : std::next(it);
      }
      local_room_count_.store(local_rooms);
      if (ok) {
        const std::size_t local_connections = local_.size();
        // Parsing every room's summary is work for the I/O threads, not the Redis thread.
        asio::post(net_io_, [this, summaries = std::move(summaries), local_connections, local_rooms] {
          const room::Millis now = now_ms();
          std::vector<engine::RoomSummary> rooms;
          auto presence = std::make_shared<std::unordered_map<std::string, std::size_t>>();
          rooms.reserve(summaries.size());
          for (const auto& s : summaries) {
            try {
              auto entry = render_status_entry(s, now);
              (*presence)[entry.room_id] = entry.members;
              rooms.push_back(engine::RoomSummary{std::move(entry.json), std::move(entry.addrs)});
            } catch (const std::exception& e) {
              spdlog::warn("cluster: unreadable status summary: {}", e.what());
            }
          }
          status_rooms_.store(rooms.size());
          status_.publish(std::move(rooms), local_connections, local_rooms);
          std::lock_guard lock(presence_mutex_);
          presence_ = std::move(presence);
        });
      }
    }
    co_await sleep_for(kStatusInterval);
  }
}

awaitable<void> ClusterNode::Impl::backlog_loop() {
  while (!stopping_) {
    if (link_up_.load()) {
      const auto len = co_await callv("XLEN", keys_.audit());
      if (len.type == redis::Reply::Type::integer) backlog_.store(static_cast<std::size_t>(len.integer));
    }
    co_await sleep_for(kBacklogInterval);
  }
}

awaitable<void> ClusterNode::Impl::audit_loop() {
  const std::size_t batch_size = static_cast<std::size_t>(config_.audit.batch_size);
  const auto flush = config_.audit.flush_interval;
  const auto min_idle = std::to_string(std::max<std::int64_t>(2 * node_ttl_.count(), 1000));
  auto last_claim = std::chrono::steady_clock::now();
  auto last_cleanup = std::chrono::steady_clock::now();
  auto last_flush = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (!link_up_.load()) {
      co_await sleep_for(200ms);
      continue;
    }
    auto reply = co_await callv("XREADGROUP", "GROUP", kGroup, instance_, "COUNT", std::to_string(batch_size),
                                "STREAMS", keys_.audit(), ">");
    if (reply.type == redis::Reply::Type::error && reply.text.starts_with("NOGROUP")) {
      co_await callv("XGROUP", "CREATE", keys_.audit(), kGroup, "0", "MKSTREAM");
      continue;
    }
    const redis::Reply* entries = nullptr;
    if (reply.type == redis::Reply::Type::array && !reply.elements.empty() && reply.elements[0].elements.size() == 2) {
      entries = &reply.elements[0].elements[1];
    }
    redis::Reply claimed;
    const auto steady = std::chrono::steady_clock::now();
    if ((!entries || entries->elements.empty()) && steady - last_claim >= kClaimInterval) {
      last_claim = steady;
      claimed = co_await callv("XAUTOCLAIM", keys_.audit(), kGroup, instance_, min_idle, "0-0", "COUNT",
                               std::to_string(batch_size));
      if (claimed.type == redis::Reply::Type::array && claimed.elements.size() >= 2) entries = &claimed.elements[1];
    }
    if (steady - last_cleanup >= kConsumerCleanupInterval) {
      last_cleanup = steady;
      const auto consumers = co_await callv("XINFO", "CONSUMERS", keys_.audit(), kGroup);
      for (const auto& c : consumers.elements) {
        std::string name;
        std::int64_t pending = -1, idle = 0;
        for (std::size_t i = 0; i + 1 < c.elements.size(); i += 2) {
          if (c.elements[i].text == "name") name = c.elements[i + 1].text;
          if (c.elements[i].text == "pending") pending = c.elements[i + 1].integer;
          if (c.elements[i].text == "idle") idle = c.elements[i + 1].integer;
        }
        if (name != instance_ && pending == 0 && idle > kConsumerIdleLimitMs) {
          fire({"XGROUP", "DELCONSUMER", keys_.audit(), kGroup, name});
        }
      }
    }
    PgBatch batch;
    std::vector<std::string> ids;
    if (entries) {
      for (const auto& e : entries->elements) {
        if (e.elements.size() != 2 || e.elements[0].type != redis::Reply::Type::string) continue;
        ids.push_back(e.elements[0].text);
        const auto& fields = e.elements[1].elements;
        PgBatch::Event event;
        for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
          const std::string& k = fields[i].text;
          const std::string& v = fields[i + 1].text;
          if (k == "r") event.room_id = v;
          else if (k == "t") event.type = v;
          else if (k == "u") event.user_id = v;
          else if (k == "q") event.seq = std::stoll(v);
          else if (k == "a") event.at = std::stoll(v);
          else if (k == "d") event.detail = v;
          else if (k == "n") event.node_id = v;
          else if (k == "i") event.uid = v;
        }
        if (event.uid.empty()) event.uid = "stream-" + ids.back();
        if (event.detail.empty()) event.detail = "{}";
        batch.events.push_back(std::move(event));
      }
    }
    const bool snapshots_due = !pending_snapshots_.empty() && steady - last_flush >= flush;
    if (batch.events.empty() && !snapshots_due && pending_short_ids_.empty()) {
      co_await sleep_for(flush);
      continue;
    }
    last_flush = steady;
    for (auto& [id, snap] : pending_snapshots_) batch.rooms.push_back(std::move(snap));
    pending_snapshots_.clear();
    batch.short_ids = std::exchange(pending_short_ids_, {});
    const std::size_t count = batch.events.size();
    if (co_await write_batch(ids, std::move(batch))) audit_written_.inc(count);
  }
}

awaitable<bool> ClusterNode::Impl::write_batch(std::vector<std::string> ids, PgBatch batch) {
  audit_busy_ = true;
  auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kPgRetryMin);
  bool logged = false;
  for (;;) {
    PgBatch attempt = batch;
    if (co_await async_pg_write(pg_, rio_, std::move(attempt), use_awaitable)) break;
    backend_errors_.with("postgres").inc();
    if (!logged) spdlog::warn("cluster: PostgreSQL unavailable; {} audit records wait in Redis", backlog_.load());
    logged = true;
    if (stopping_) {
      audit_busy_ = false;
      co_return false;  // the entries stay pending in Redis; another node claims them
    }
    co_await sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kPgRetryMax));
  }
  if (logged) spdlog::info("cluster: PostgreSQL is back; audit copying resumed");
  if (!ids.empty()) {
    std::vector<std::string> ack{"XACK", keys_.audit(), kGroup};
    ack.insert(ack.end(), ids.begin(), ids.end());
    co_await call(std::move(ack));
    std::vector<std::string> del{"XDEL", keys_.audit()};
    del.insert(del.end(), ids.begin(), ids.end());
    co_await call(std::move(del));
  }
  audit_busy_ = false;
  co_return true;
}

}  // namespace tandem::cluster
