#include "core/cluster/node_impl.hpp"

namespace tandem::cluster {

// ---- rooms -----------------------------------------------------------------------------------

std::shared_ptr<ClusterNode::Impl::RoomEntry> ClusterNode::Impl::entry(const std::string& room_id) {
  auto& slot = rooms_[room_id];
  if (!slot) {
    slot = std::make_shared<RoomEntry>();
    slot->id = room_id;
    slot->state.room_id = room_id;
  }
  return slot;
}

void ClusterNode::Impl::maybe_drop(const std::shared_ptr<RoomEntry>& r) {
  if (r->locked || !r->waiters.empty() || !r->local_bound.empty() || r->ticking) return;
  auto it = rooms_.find(r->id);
  if (it != rooms_.end() && it->second == r) rooms_.erase(it);
}

awaitable<void> ClusterNode::Impl::lock(std::shared_ptr<RoomEntry> r) {
  if (!r->locked) {
    r->locked = true;
    co_return;
  }
  auto waiter = std::make_shared<asio::steady_timer>(rio_, SteadyTime::max());
  r->lock_waiters.push_back(waiter);
  co_await waiter->async_wait(asio::as_tuple(use_awaitable));  // unlock() cancels: the lock is ours
}

void ClusterNode::Impl::unlock(RoomEntry& r) {
  if (r.newer) {
    auto [version, state] = std::move(*r.newer);
    r.newer.reset();
    if (!r.loaded || version > r.version) adopt(r, version, std::move(state));
  }
  if (r.lock_waiters.empty()) {
    r.locked = false;
    return;
  }
  auto next = std::move(r.lock_waiters.front());
  r.lock_waiters.pop_front();
  next->cancel();
}

void ClusterNode::Impl::adopt(RoomEntry& r, std::uint64_t version, std::optional<room::RoomState> state) {
  r.version = version;
  r.loaded = true;
  if (state) {
    r.state = std::move(*state);
  } else {
    r.state = room::RoomState{};
    r.state.room_id = r.id;
  }
  remember_position(r);
}

void ClusterNode::Impl::remember_position(RoomEntry& r) {
  r.committed_time = r.state.current_time;
  r.committed_at = r.state.position_at;
  r.committed_playing = r.state.is_playing;
}

awaitable<bool> ClusterNode::Impl::load(RoomEntry& r) {
  const auto reply = co_await callv("HMGET", keys_.room(r.id), "v", "s");
  if (reply.type != redis::Reply::Type::array || reply.elements.size() != 2) {
    backend_errors_.with("redis").inc();
    co_return false;
  }
  std::uint64_t version = 0;
  if (reply.elements[0].type == redis::Reply::Type::string) version = std::stoull(reply.elements[0].text);
  std::optional<room::RoomState> state;
  if (reply.elements[1].type == redis::Reply::Type::string) {
    try {
      state = room::from_json(boost::json::parse(reply.elements[1].text));
    } catch (const std::exception& e) {
      spdlog::error("cluster: room {} has an unreadable state in Redis: {}", r.id, e.what());
      co_return false;
    }
  }
  adopt(r, version, std::move(state));
  co_return true;
}

awaitable<ClusterNode::Impl::OpResult> ClusterNode::Impl::room_op(std::string room_id, room::Input input,
                                                                   std::shared_ptr<Conn> origin, SteadyTime received) {
  auto r = entry(room_id);
  co_await lock(r);
  OpResult result;
  try {
    result = co_await apply_and_commit(*r, input, origin);
  } catch (const std::exception& e) {
    spdlog::error("cluster: room {}: {}", room_id, e.what());
    r->loaded = false;
  }
  unlock(*r);
  if (result.ok && result.version != 0 && origin) co_await wait_processed(r, result.version);
  if (result.broadcast) {
    broadcast_latency_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
  }
  maybe_drop(r);
  co_return result;
}

awaitable<ClusterNode::Impl::OpResult> ClusterNode::Impl::apply_and_commit(RoomEntry& r, room::Input& input,
                                                                            const std::shared_ptr<Conn>& origin) {
  OpResult result;
  bool pin_checked = false;
  const bool quiet_kind = std::holds_alternative<room::FrameInput>(input);
  const auto give_up = std::chrono::steady_clock::now() + kCasBudget;
  for (int attempt = 0; std::chrono::steady_clock::now() < give_up; ++attempt) {
    if (attempt >= kCasEagerAttempts) {
      // Several nodes keep committing to this room at once: step back a random moment.
      std::uniform_int_distribution<std::int64_t> pause(0, kCasJitter.count());
      co_await sleep_for(std::chrono::microseconds(pause(random_)));
      if (r.newer) {
        auto [version, state] = std::move(*r.newer);
        r.newer.reset();
        if (version > r.version) adopt(r, version, std::move(state));
      }
    }
    if (!r.loaded && !co_await load(r)) co_return result;
    if (auto* join = std::get_if<room::JoinInput>(&input);
        join && !pin_checked && r.state.exists && !r.state.archived && r.state.pin) {
      join->addr_blocked = co_await address_blocked(join->client_addr);
      pin_checked = true;
    }
    const std::vector<std::string> nodes_before = member_nodes(r.state);
    const Digest before = quiet_kind ? digest(r.state) : Digest{};
    const room::Millis now = std::max(now_ms(), r.state.last_activity);
    room::Effects fx = room::apply(r.state, input, now, settings_);

    bool needs_commit = !fx.audit.empty() || fx.archived ||
                        std::any_of(fx.frames.begin(), fx.frames.end(), [](const auto& f) { return f.sequenced; });
    if (!needs_commit && fx.changed) {
      const Digest after = quiet_kind ? digest(r.state) : Digest{};
      needs_commit = !quiet_kind || !(after == before);
      if (needs_commit && quiet_kind && without_position(after) == without_position(before) &&
          r.state.is_playing == r.committed_playing) {
        if (r.state.is_playing) {
          const double committed_now =
              r.committed_time + static_cast<double>(std::max<room::Millis>(0, now - r.committed_at)) / 1000.0;
          needs_commit = std::abs(r.state.current_time - committed_now) > kPositionTolerance;
        } else {
          needs_commit = r.state.current_time != r.committed_time;  // paused: only the time matters
        }
      }
    }
    if (!needs_commit) {
      deliver_uncommitted(r.id, fx);
      result.ok = true;
      result.join = fx.join;
      co_return result;
    }

    const bool ended = fx.archived || !r.state.exists;
    Commit commit = plan_commit(r.state, nodes_before, fx, r.version, now, instance_, [this] { return next_uid(); });
    std::vector<std::string> args =
        commit_arguments(keys_, r.id, commit, config_.rooms.short_id_ttl.count(), kTombstoneTtlMs);
    auto reply = co_await eval(commit_script(), std::move(args));
    if (is_ok_array(reply) && reply.elements[0].integer == 1) {
      result.ok = true;
      result.join = fx.join;
      const bool targeted_here =
          std::find(commit.target_nodes.begin(), commit.target_nodes.end(), instance_) != commit.target_nodes.end();
      result.version = targeted_here ? r.version + 1 : 0;
      result.broadcast = targeted_here && std::any_of(fx.frames.begin(), fx.frames.end(), [](const auto& f) {
                           return f.sequenced && !f.recipients.empty();
                         });
      after_commit(r, ended, commit, origin, now);
      co_return result;
    }
    if (is_ok_array(reply) && reply.elements[0].integer == 0 && reply.elements.size() == 3) {
      cas_retries_.inc();
      std::optional<room::RoomState> state;
      if (!reply.elements[2].text.empty()) state = room::from_json(boost::json::parse(reply.elements[2].text));
      adopt(r, static_cast<std::uint64_t>(reply.elements[1].integer), std::move(state));
      continue;
    }
    backend_errors_.with("redis").inc();
    if (reply.type == redis::Reply::Type::error) spdlog::error("cluster: commit of room {} failed: {}", r.id, reply.text);
    r.loaded = false;
    co_return result;
  }
  spdlog::warn("cluster: room {}: gave up after {} ms of conflicting commits", r.id,
               std::chrono::duration_cast<std::chrono::milliseconds>(kCasBudget).count());
  r.loaded = false;
  co_return result;
}

void ClusterNode::Impl::after_commit(RoomEntry& r, bool ended, const Commit& commit,
                                     const std::shared_ptr<Conn>& origin, room::Millis now) {
  r.version += 1;
  remember_position(r);
  // The origin connection is bound to this room exactly when the new state seats it.
  if (origin) {
    const bool seated = !ended && std::any_of(r.state.members.begin(), r.state.members.end(),
                                              [&](const room::Member& m) { return m.conn == origin->id; });
    if (seated) {
      origin->room = r.id;
      origin->bound_version = r.version;
      r.local_bound.insert(origin->id);
    } else {
      if (origin->room == r.id) origin->room.clear();
      r.local_bound.erase(origin->id);
    }
  }
  const auto steady = std::chrono::steady_clock::now();
  for (const auto& entry : commit.audit) redo_.push_back(RedoEntry{steady, entry.fields});
  while (!redo_.empty() && (redo_.size() > audit_capacity_ || steady - redo_.front().at > kRedoWindow)) redo_.pop_front();
  if (r.state.created_at != 0 || ended) pending_snapshots_[r.id] = snapshot_of(r.state, ended, commit.state, now);
  if (ended) {
    r.state = room::RoomState{};
    r.state.room_id = r.id;
  }
}

void ClusterNode::Impl::deliver_uncommitted(const std::string& room_id, room::Effects& fx) {
  // Frames that change nothing (replies to the sender, targeted relays): local recipients get
  // them at once, other nodes through their channels.
  std::vector<room::OutFrame> remote;
  std::vector<std::string> nodes;
  for (auto& out : fx.frames) {
    std::shared_ptr<const std::string> text;
    room::OutFrame far;
    for (const auto& to : out.recipients) {
      const auto node = node_of(to);
      if (node == instance_) {
        if (!text) text = std::make_shared<const std::string>(boost::json::serialize(out.frame));
        send_local(to, text);
      } else {
        far.recipients.push_back(to);
        nodes.emplace_back(node);
      }
    }
    if (text) {
      std::string code;
      if (is_error_frame(*text, code)) errors_.with(code).inc();
    }
    if (!far.recipients.empty()) {
      far.frame = std::move(out.frame);
      remote.push_back(std::move(far));
    }
  }
  for (const auto& close : fx.closes) {
    if (node_of(close.conn) == instance_) close_local(close.conn, close.code, close.reason);
  }
  if (remote.empty()) return;
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  const std::string payload = encode_envelope(room_id, 0, now_ms(), remote, {}, {});
  for (const auto& node : nodes) fire({"PUBLISH", keys_.node_channel(node), payload});
}

awaitable<void> ClusterNode::Impl::wait_processed(std::shared_ptr<RoomEntry> r, std::uint64_t version) {
  if (r->processed && *r->processed >= version) co_return;
  auto timer = std::make_shared<asio::steady_timer>(rio_, kDeliveryWait);
  auto it = r->waiters.emplace(version, timer);
  co_await timer->async_wait(asio::as_tuple(use_awaitable));
  // Woken by delivery (cancel) or timed out: either way no longer waiting. Only this coroutine
  // erases its own entry, so `it` is still valid.
  r->waiters.erase(it);
}

awaitable<bool> ClusterNode::Impl::address_blocked(const std::string& addr) {
  const room::Millis now = now_ms();
  const auto reply =
      co_await callv("ZCOUNT", keys_.pin_failures(addr), std::to_string(now - kPinWindow + 1), "+inf");
  co_return reply.type == redis::Reply::Type::integer &&
      reply.integer >= config_.limits.pin_attempts_per_ip_minute;
}

void ClusterNode::Impl::record_pin_failure(const std::string& addr) {
  const room::Millis now = now_ms();
  const std::string key = keys_.pin_failures(addr);
  fire({"ZADD", key, std::to_string(now), next_uid()});
  fire({"ZREMRANGEBYSCORE", key, "-inf", std::to_string(now - kPinWindow)});
  // Bounded: only the newest `limit` failures matter.
  fire({"ZREMRANGEBYRANK", key, "0", std::to_string(-config_.limits.pin_attempts_per_ip_minute - 1)});
  fire({"PEXPIRE", key, std::to_string(kPinWindow)});
}

awaitable<void> ClusterNode::Impl::reconcile_room(std::string room_id) {
  // Members of this node that have no connection here any more (their disconnect could not be
  // committed), and connections of this node that the room no longer seats.
  for (int round = 0; round < 64; ++round) {
    auto r = entry(room_id);
    co_await lock(r);
    std::optional<room::ConnId> ghost;
    bool ok = r->loaded || co_await load(*r);
    if (ok) {
      for (const auto& m : r->state.members) {
        if (m.node_id != instance_) continue;
        auto it = local_.find(m.conn);
        if (it == local_.end() || it->second->room != room_id) {
          ghost = m.conn;
          break;
        }
      }
      if (!ghost) {
        for (auto it = r->local_bound.begin(); it != r->local_bound.end();) {
          const bool seated = std::any_of(r->state.members.begin(), r->state.members.end(),
                                          [&](const room::Member& m) { return m.conn == *it; });
          if (seated) {
            ++it;
            continue;
          }
          if (auto c = local_.find(*it); c != local_.end()) {
            c->second->room.clear();
            resync_closes_.inc();
            close_local(*it, 1012, "service restart");
          }
          it = r->local_bound.erase(it);
        }
      }
    }
    OpResult result;
    if (ghost) {
      room::Input input = room::DisconnectInput{*ghost, false};
      result = co_await apply_and_commit(*r, input, nullptr);
    }
    unlock(*r);
    maybe_drop(r);
    if (!ghost || !result.ok) co_return;
  }
}

// ---- envelopes -------------------------------------------------------------------------------

void ClusterNode::Impl::on_envelope(const redis::Message& message) {
  Envelope env;
  try {
    env = decode_envelope(message.payload);
  } catch (const std::exception& e) {
    backend_errors_.with("envelope").inc();
    spdlog::error("cluster: dropped a malformed envelope: {}", e.what());
    return;
  }
  if (env.version == 0) {
    deliver(env);
    return;
  }
  auto found = rooms_.find(env.room_id);
  std::shared_ptr<RoomEntry> r = found == rooms_.end() ? nullptr : found->second;
  const bool has_local = env.state && std::any_of(env.state->members.begin(), env.state->members.end(),
                                                  [&](const room::Member& m) { return m.node_id == instance_; });
  if (!r) {
    // No work and no members here: just this envelope's frames (e.g. an ERROR to a connection
    // whose JOIN another node's commit answered).
    deliver(env);
    if (!has_local) return;
    r = entry(env.room_id);
    r->processed = env.version;
    r->delivered = env.version;
    adopt(*r, env.version, std::move(env.state));
    return;
  }
  if (r->processed && env.version <= *r->processed) return;  // already handled (or older)
  if (r->delivered && env.version != *r->delivered + 1) {
    // A frame of this room was lost on the way to this node (the subscription broke): our
    // members may have missed broadcasts. They reconnect and get a fresh ROOM_STATE.
    resync_entry(*r, "missed room frames");
  } else {
    deliver(env);
  }
  r->processed = env.version;
  r->delivered = has_local ? std::optional(env.version) : std::nullopt;

  // Connections of this node the room no longer seats: unbound; those the envelope does not
  // close itself (a dead-node cleanup that wrongly removed this node) are closed 1012.
  for (auto it = r->local_bound.begin(); it != r->local_bound.end();) {
    auto c = local_.find(*it);
    if (c == local_.end() || c->second->room != r->id) {  // gone, or bound elsewhere by now
      it = r->local_bound.erase(it);
      continue;
    }
    const bool seated = env.state && std::any_of(env.state->members.begin(), env.state->members.end(),
                                                 [&](const room::Member& m) { return m.conn == *it; });
    if (seated || env.version <= c->second->bound_version) {
      ++it;
      continue;
    }
    const bool closed_here = std::any_of(env.closes.begin(), env.closes.end(),
                                         [&](const room::Close& close) { return close.conn == *it; });
    c->second->room.clear();
    if (!closed_here) {
      resync_closes_.inc();
      close_local(*it, 1012, "service restart");
    }
    it = r->local_bound.erase(it);
  }

  if (r->locked) {
    if (!r->newer || r->newer->first < env.version) r->newer.emplace(env.version, std::move(env.state));
  } else if (!r->loaded || env.version > r->version) {
    adopt(*r, env.version, std::move(env.state));
  }
  for (auto it = r->waiters.begin(); it != r->waiters.end() && it->first <= env.version; ++it) it->second->cancel();
  maybe_drop(r);
}

void ClusterNode::Impl::deliver(const Envelope& env) {
  const room::Millis now = now_ms();
  bool sequenced = false;
  for (const auto& frame : env.frames) {
    bool any = false;
    for (const auto& to : frame.to) {
      if (node_of(to) != instance_) continue;
      send_local(to, frame.text);
      any = true;
    }
    if (any) {
      std::string code;
      if (is_error_frame(*frame.text, code)) errors_.with(code).inc();
      sequenced = sequenced || frame.sequenced;
    }
  }
  if (sequenced && env.sent_at > 0) delivery_latency_.observe(static_cast<double>(std::max<room::Millis>(0, now - env.sent_at)) / 1000.0);
  for (const auto& close : env.closes) {
    if (node_of(close.conn) == instance_) close_local(close.conn, close.code, close.reason);
  }
}

void ClusterNode::Impl::resync_entry(RoomEntry& r, const char* why) {
  if (!r.local_bound.empty()) {
    spdlog::warn("cluster: room {}: {}; closing its {} connections on this node (1012) so they rejoin", r.id, why,
                 r.local_bound.size());
  }
  for (const auto& id : r.local_bound) {
    if (auto c = local_.find(id); c != local_.end() && c->second->room == r.id) {
      c->second->room.clear();
      resync_closes_.inc();
      close_local(id, 1012, "service restart");
    }
  }
  r.local_bound.clear();
  r.delivered.reset();
  if (!r.locked) r.loaded = false;
}

}  // namespace tandem::cluster
