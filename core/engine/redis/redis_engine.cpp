#include "core/engine/redis/redis_engine.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/engine/redis/audit_copier.hpp"
#include "core/engine/redis/committer.hpp"
#include "core/engine/redis/context.hpp"
#include "core/engine/redis/link.hpp"
#include "core/engine/redis/liveness.hpp"
#include "core/engine/redis/restorer.hpp"
#include "core/engine/redis/router.hpp"
#include "core/engine/redis/scripts.hpp"
#include "core/util/random.hpp"
#include "core/util/thread_name.hpp"

namespace tandem::engine::redis {

namespace {

constexpr auto kTickInterval = 100ms;
constexpr std::size_t kTicksPerRound = 200;
// A node without members in a room resolves its due deadline only this late (the member nodes
// go first; this one steps in when they are gone).
constexpr room::Millis kForeignTickDelay = 200;
constexpr auto kStatusInterval = 2s;
// Rooms per HSCAN page of the /status rebuild, also the most it renders in one loop turn.
constexpr std::size_t kStatusScanCount = 250;
constexpr room::Millis kMintWindow = 60'000;
constexpr std::size_t kShortIdCandidates = 4;
constexpr std::size_t kShortIdLength = 8;
constexpr std::string_view kShortIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
// Stopping on the host's loop: how long the engine's coroutines get to unwind once the Redis
// connections are closed (their pending commands fail at once).
constexpr auto kUnwindBudget = 1s;

}  // namespace

EngineMetrics::EngineMetrics(metrics::Registry& r)
    : backend_errors(r.counter_family("tandem_backend_errors_total", "Backend failures, by backend", {"backend"})),
      delivery_latency(r.histogram("tandem_cluster_delivery_latency_seconds",
                                   "Time from a room change's commit to queuing its frames on this node",
                                   metrics::latency_bounds())),
      commits(r.counter_family("tandem_cluster_commits_total",
                               "Room changes this node committed, by input (a frame type, JOIN, disconnect, tick, "
                               "node_lost, seen) and form (state: the room's state written; advance: only its seq "
                               "and last activity)",
                               {"input", "form"})),
      cas_retries(r.counter("tandem_cluster_cas_retries_total",
                            "Room changes applied again after another node committed first")),
      cas_abandoned(r.counter("tandem_cluster_cas_abandoned_total",
                              "Room changes given up after losing the compare-and-set too long or too often")),
      resync_closes(r.counter("tandem_cluster_resync_closes_total",
                              "Connections closed 1012 because they may have missed room frames")),
      nodes_lost(r.counter("tandem_cluster_nodes_lost_total", "Dead nodes this node cleaned up after")),
      audit_written(r.counter("tandem_audit_written_total", "Audit records copied to PostgreSQL")),
      postgres_errors(r.counter("tandem_postgres_write_errors_total", "Failed PostgreSQL batches")),
      // The embedded mode registers the same family for its store (sqlite).
      dead_letters(r.counter_family("tandem_dead_letters_total", "Records a database refused as data, set aside",
                                    {"store"})
                       .with("postgres")),
      room_lookups(r.counter_family("tandem_cluster_room_lookups_total",
                                    "Rooms a JOIN would create that Redis did not hold, looked up in PostgreSQL, by "
                                    "result (restored, superseded, dropped, absent, unavailable, unreadable)",
                                    {"result"})) {}

void Context::spawn(awaitable<void> task, const char* what) {
  ++tasks;
  asio::co_spawn(io, std::move(task), [this, what](std::exception_ptr e) {
    --tasks;
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("cluster: {} failed: {}", what, ex.what());
    }
  });
}

awaitable<void> Context::sleep_for(std::chrono::steady_clock::duration d) {
  if (woken) co_return;
  asio::steady_timer timer(io, d);
  sleepers.insert(&timer);
  co_await timer.async_wait(asio::as_tuple(use_awaitable));
  sleepers.erase(&timer);
}

void Context::wake_all() {
  woken = true;
  for (auto* timer : sleepers) timer->cancel();
}

class RedisEngine::Impl {
 public:
  Impl(const config::Config& config, metrics::Registry& registry, asio::io_context* loop);

  void start(EngineHost& host);
  void submit(Submission submission, std::function<void(Outcome)> done);
  bool stop(std::chrono::milliseconds budget);

  void presence(const std::string& room_id, std::function<void(std::optional<std::size_t>)> done);
  void short_id(const std::string& room_id, const std::string& addr, std::function<void(ShortIdResult)> done);
  void room_for_short_id(const std::string& short_id, std::function<void(std::optional<std::string>)> done);
  std::shared_ptr<const StatusRooms> status() const {
    std::lock_guard lock(status_mutex_);
    return status_;
  }
  std::optional<std::size_t> snapshot_presence(const std::string& room_id) const;

  // The engine's own loop and thread, or none when it runs on the host's loop (see the header).
  std::unique_ptr<asio::io_context> own_io_;
  asio::io_context& io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;
  EngineMetrics metrics_;
  Context ctx_;
  RedisLink link_;
  EnvelopeRouter router_;
  AuditCopier copier_;
  RoomRestorer restorer_;
  RoomCommitter committer_;
  Liveness liveness_;

  std::atomic<bool> link_up_{false};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::size_t> status_room_count_{0};
  std::atomic<std::size_t> local_room_count_{0};
  const std::size_t audit_capacity_;

 private:
  awaitable<void> handle(Submission submission, std::function<void(Outcome)> done);
  awaitable<void> deadline_loop();
  awaitable<void> tick_room(std::string room_id);
  awaitable<void> status_loop();
  awaitable<void> mint(std::string room_id, std::string addr, std::function<void(ShortIdResult)> done);

  // Leaves the cluster: the audit copier's last batch, the room snapshots, the liveness key.
  awaitable<void> leave(SteadyTime until, std::function<void()> left);
  // After leave: every loop of the engine ends; nothing of it is pending on io_ afterwards.
  void halt();
  bool stop_on_host_loop(SteadyTime deadline);
  void stop_helpers();

  bool stopping_ = false;
  std::unordered_set<std::string> ticking_;
  std::unordered_map<std::string, std::deque<room::Millis>> mints_by_addr_;
  mutable std::mutex status_mutex_;
  std::shared_ptr<const StatusRooms> status_ = std::make_shared<StatusRooms>();
  std::shared_ptr<const std::unordered_map<std::string, std::size_t>> presence_ =
      std::make_shared<std::unordered_map<std::string, std::size_t>>();
};

RedisEngine::Impl::Impl(const config::Config& config, metrics::Registry& registry, asio::io_context* loop)
    : own_io_(loop == nullptr ? std::make_unique<asio::io_context>() : nullptr),
      io_(loop == nullptr ? *own_io_ : *loop),
      metrics_(registry),
      ctx_{io_, config, room_settings(config), config.server.node_id + "~" + util::random_hex(3),
           Keys(config.redis->key_prefix), metrics_},
      link_(ctx_, RedisLink::Handlers{[this](const tandem::redis::Message& m) { router_.on_message(m); },
                                      [this](bool first, bool data_lost) {
                                        liveness_.register_node();
                                        link_up_.store(true);
                                        if (first) {
                                          spdlog::info("cluster: node {} joined (Redis {}:{} db {}, prefix \"{}\")",
                                                       ctx_.instance, ctx_.config.redis->host,
                                                       ctx_.config.redis->port, ctx_.config.redis->db,
                                                       ctx_.keys.prefix());
                                          return;
                                        }
                                        spdlog::info("cluster: Redis is back{}; resynchronising",
                                                     data_lost ? " without its data" : "");
                                        if (data_lost) copier_.requeue();
                                        ctx_.spawn(committer_.resync_all(data_lost), "resync");
                                      },
                                      [this] { link_up_.store(false); }}),
      router_(ctx_, link_),
      copier_(ctx_, link_),
      restorer_(ctx_),
      committer_(ctx_, link_, router_, copier_, restorer_),
      liveness_(ctx_, link_, committer_),
      audit_capacity_(static_cast<std::size_t>(config.audit.queue_capacity)) {
  router_.set_on_committed([this](Envelope& env) { committer_.on_envelope(env); });
  // Per pod: a room with members on two pods counts on both. The cluster-wide values are the same
  // on every pod (read from Redis): aggregate them with max(), never sum().
  registry.gauge_fn("tandem_rooms", "Rooms with members connected to this node",
                    [this] { return static_cast<double>(local_room_count_.load()); });
  registry.gauge_fn("tandem_cluster_rooms", "Live rooms in the whole cluster (same on every node: use max())",
                    [this] { return static_cast<double>(status_room_count_.load()); });
  registry.gauge_fn("tandem_audit_backlog",
                    "Audit records in the cluster's Redis stream not yet written to PostgreSQL (same on every node: "
                    "use max())",
                    [this] { return static_cast<double>(copier_.backlog()); });
  registry.gauge_fn("tandem_redis_up", "1 while this node is connected to Redis",
                    [this] { return link_up_.load() ? 1.0 : 0.0; });
  registry.gauge_fn("tandem_postgres_up", "1 while the last PostgreSQL write succeeded",
                    [this] { return copier_.postgres_healthy() ? 1.0 : 0.0; });
}

void RedisEngine::Impl::start(EngineHost& host) {
  ctx_.host = &host;
  work_.emplace(io_.get_executor());
  link_.start();
  liveness_.start();
  copier_.start();
  ctx_.spawn(deadline_loop(), "room deadlines");
  ctx_.spawn(status_loop(), "status snapshot");
  started_ = true;
  if (!own_io_) return;
  thread_ = std::thread([this] {
    util::name_this_thread("redis-engine");
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("cluster: unexpected error on the engine thread: {}", e.what());
      }
    }
  });
}

void RedisEngine::Impl::submit(Submission submission, std::function<void(Outcome)> done) {
  if (std::holds_alternative<room::SeenInput>(submission.input) && !ctx_.settings.strict_identity) {
    // last_seen matters only to strict identity; without it a pong changes nothing shared.
    done(Outcome{true});
    return;
  }
  in_flight_.fetch_add(1);
  // dispatch: a connection of the engine's own loop starts the change here and now (co_spawn runs
  // it up to its first wait); another loop's connection posts it to the engine's loop.
  asio::dispatch(io_, [this, submission = std::move(submission), done = std::move(done)]() mutable {
    // Most frames commit nothing: done here and now when the room allows (apply_uncommitted),
    // unless strict identity has the sender's last_seen to commit.
    if (!committer_.seen_due(submission.origin)) {
      std::optional<Outcome> outcome;
      try {
        outcome = committer_.apply_uncommitted(submission.room_id, submission.input);
      } catch (const std::exception& e) {
        spdlog::error("cluster: room change failed: {}", e.what());
        outcome = Outcome{};  // not applied, as in handle()
      }
      if (outcome) {
        in_flight_.fetch_sub(1);
        done(*outcome);
        return;
      }
    }
    ctx_.spawn(handle(std::move(submission), std::move(done)), "room change");
  });
}

awaitable<void> RedisEngine::Impl::handle(Submission submission, std::function<void(Outcome)> done) {
  Outcome outcome;
  try {
    if (const auto* seen = std::get_if<room::SeenInput>(&submission.input)) {
      room::ConnId conn = seen->conn;
      co_await committer_.refresh_seen(std::move(conn));
      outcome.applied = true;
    } else {
      const bool frame = std::holds_alternative<room::FrameInput>(submission.input);
      room::ConnId origin = submission.origin;
      outcome = co_await committer_.room_op(std::move(submission.room_id), std::move(submission.input),
                                            std::move(origin));
      if (frame && !submission.origin.empty()) {
        room::ConnId conn = submission.origin;
        co_await committer_.refresh_seen(std::move(conn));
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("cluster: room change failed: {}", e.what());
  }
  in_flight_.fetch_sub(1);
  done(outcome);
}

std::optional<std::size_t> RedisEngine::Impl::snapshot_presence(const std::string& room_id) const {
  std::shared_ptr<const std::unordered_map<std::string, std::size_t>> map;
  {
    std::lock_guard lock(status_mutex_);
    map = presence_;
  }
  auto it = map->find(room_id);
  return it == map->end() ? 0 : it->second;
}

void RedisEngine::Impl::presence(const std::string& room_id, std::function<void(std::optional<std::size_t>)> done) {
  // Live from the room's /status summary in Redis (one HGET); the snapshot when Redis is away.
  if (!link_up_.load()) return done(snapshot_presence(room_id));
  asio::post(io_, [this, room_id, done = std::move(done)]() mutable {
    link_.command({"HGET", ctx_.keys.status(), room_id}, [this, room_id, done = std::move(done)](Reply reply) {
      if (reply.type == Reply::Type::nil) return done(std::size_t{0});
      if (reply.type == Reply::Type::string) {
        try {
          return done(render_status_entry(reply.text, epoch_ms()).members);
        } catch (const std::exception&) {
        }
      }
      done(snapshot_presence(room_id));
    });
  });
}

void RedisEngine::Impl::short_id(const std::string& room_id, const std::string& addr,
                                 std::function<void(ShortIdResult)> done) {
  if (!link_up_.load()) return done(ShortIdResult{});
  asio::post(io_, [this, room_id, addr, done = std::move(done)]() mutable {
    ctx_.spawn(mint(std::move(room_id), std::move(addr), std::move(done)), "short id");
  });
}

awaitable<void> RedisEngine::Impl::mint(std::string room_id, std::string addr, std::function<void(ShortIdResult)> done) {
  ShortIdResult result;
  try {
    const room::Millis now = epoch_ms();
    auto& mints = mints_by_addr_[addr];
    while (!mints.empty() && mints.front() <= now - kMintWindow) mints.pop_front();
    const bool may_mint = mints.size() < static_cast<std::size_t>(ctx_.config.limits.short_ids_per_minute);
    const std::int64_t ttl = ctx_.config.rooms.short_id_ttl.count();
    std::vector<std::string> args{"1", ctx_.keys.room_short_id(room_id), room_id, std::to_string(ttl),
                                  ctx_.keys.short_id_prefix()};
    if (may_mint) {
      for (std::size_t n = 0; n < kShortIdCandidates; ++n) {
        args.push_back(util::random_string(kShortIdAlphabet, kShortIdLength));
      }
    }
    const auto reply = co_await link_.eval(short_id_script(), std::move(args));
    if (reply.type == Reply::Type::array && reply.elements.size() == 2) {
      result.short_id = reply.elements[0].text;
      if (reply.elements[1].integer == 1) {
        mints_by_addr_[addr].push_back(now);
        copier_.put_short_id(ShortIdRecord{result.short_id, room_id, now, now + ttl});
      }
      result.rate_limited = result.short_id.empty() && !may_mint;
    } else {
      metrics_.backend_errors.with("redis").inc();
    }
    if (auto it = mints_by_addr_.find(addr); it != mints_by_addr_.end() && it->second.empty()) mints_by_addr_.erase(it);
  } catch (const std::exception& e) {
    spdlog::error("cluster: short id: {}", e.what());
  }
  done(result);
}

void RedisEngine::Impl::room_for_short_id(const std::string& short_id,
                                          std::function<void(std::optional<std::string>)> done) {
  if (!link_up_.load()) return done(std::nullopt);
  asio::post(io_, [this, key = ctx_.keys.short_id(short_id), done = std::move(done)]() mutable {
    link_.command({"GET", std::move(key)}, [done = std::move(done)](Reply reply) {
      if (reply.type == Reply::Type::string) return done(reply.text);
      done(std::nullopt);
    });
  });
}

awaitable<void> RedisEngine::Impl::deadline_loop() {
  while (!stopping_) {
    co_await ctx_.sleep_for(kTickInterval);
    if (stopping_ || !link_.up()) continue;
    const room::Millis now = epoch_ms();
    const auto due = co_await link_.callv("ZRANGEBYSCORE", ctx_.keys.deadlines(), "-inf", std::to_string(now),
                                          "WITHSCORES", "LIMIT", "0", std::to_string(kTicksPerRound));
    for (std::size_t i = 0; i + 1 < due.elements.size(); i += 2) {
      const std::string& room_id = due.elements[i].text;
      const room::Millis at = static_cast<room::Millis>(std::stoll(due.elements[i + 1].text));
      if (ticking_.count(room_id) != 0) continue;
      if (!committer_.has_members_here(room_id) && now - at < kForeignTickDelay) continue;
      ticking_.insert(room_id);
      ctx_.spawn(tick_room(room_id), "room tick");
    }
  }
}

awaitable<void> RedisEngine::Impl::tick_room(std::string room_id) {
  room::Input input = room::TickInput{};
  std::string id = room_id;
  bool gone = false;
  const auto outcome = co_await committer_.room_op(std::move(id), std::move(input), room::ConnId(), &gone);
  if (outcome.applied && gone) {
    // A deadline entry of a room that is gone: forget it (unless the room exists again).
    std::vector<std::string> args{"3", ctx_.keys.room(room_id), ctx_.keys.deadlines(), ctx_.keys.status(), room_id};
    co_await link_.eval(forget_script(), std::move(args));
  }
  ticking_.erase(room_id);
}

awaitable<void> RedisEngine::Impl::status_loop() {
  while (!stopping_) {
    if (link_.up()) {
      // Each page is rendered as it arrives: a loop turn holds at most one page of rooms.
      auto next = std::make_shared<StatusRooms>();
      auto presence = std::make_shared<std::unordered_map<std::string, std::size_t>>();
      const room::Millis now = epoch_ms();
      std::string cursor = "0";
      bool ok = true;
      do {
        const auto page =
            co_await link_.callv("HSCAN", ctx_.keys.status(), cursor, "COUNT", std::to_string(kStatusScanCount));
        if (page.type != Reply::Type::array || page.elements.size() != 2) {
          ok = false;
          break;
        }
        cursor = page.elements[0].text;
        const auto& items = page.elements[1].elements;
        for (std::size_t i = 1; i < items.size(); i += 2) {
          try {
            auto entry = render_status_entry(items[i].text, now);
            (*presence)[entry.room_id] = entry.members;
            next->add(RoomSummary{std::move(entry.json), std::move(entry.addrs)});
          } catch (const std::exception& e) {
            spdlog::warn("cluster: unreadable status summary: {}", e.what());
          }
        }
      } while (cursor != "0");
      next->local_rooms = committer_.local_room_count();
      local_room_count_.store(next->local_rooms);
      for (auto it = mints_by_addr_.begin(); it != mints_by_addr_.end();) {
        while (!it->second.empty() && it->second.front() <= now - kMintWindow) it->second.pop_front();
        it = it->second.empty() ? mints_by_addr_.erase(it) : std::next(it);
      }
      if (ok) {
        status_room_count_.store(next->rooms.size());
        std::lock_guard lock(status_mutex_);
        status_ = std::move(next);
        presence_ = std::move(presence);
      }
    }
    co_await ctx_.sleep_for(kStatusInterval);
  }
}

awaitable<void> RedisEngine::Impl::leave(SteadyTime until, std::function<void()> left) {
  stopping_ = true;
  // Let the audit copier finish its batch and the room snapshots go out, then leave.
  co_await copier_.finish(until);
  co_await liveness_.leave();
  left();
}

void RedisEngine::Impl::halt() {
  stopping_ = true;
  liveness_.stop();
  link_.stop();
  ctx_.wake_all();
  work_.reset();
}

bool RedisEngine::Impl::stop(std::chrono::milliseconds budget) {
  if (!started_ || stopped_) return true;
  stopped_ = true;
  const auto deadline = std::chrono::steady_clock::now() + budget;
  if (!own_io_) return stop_on_host_loop(deadline);
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(io_, [this, deadline, done] { ctx_.spawn(leave(deadline, [done] { done->set_value(); }), "leave"); });
  const bool in_time = finished.wait_until(deadline) == std::future_status::ready;
  if (!in_time) spdlog::warn("cluster: stop did not finish in time");
  asio::post(io_, [this] {
    halt();
    io_.stop();
  });
  thread_.join();
  stop_helpers();
  return in_time;
}

bool RedisEngine::Impl::stop_on_host_loop(SteadyTime deadline) {
  // The host's loop has returned from run() (see the header); this thread runs it again until
  // the engine has left the cluster, then until the engine's own work has unwound (the Redis
  // connections closed, their pending commands failed, every coroutine of the engine ended),
  // so that nothing of the engine is left queued on a loop that outlives it.
  io_.restart();
  // Shared, not a reference to this frame: should the unwind budget run out with `leave` still
  // queued, the loop's owner may run or destroy it after this function has returned.
  auto left = std::make_shared<bool>(false);
  ctx_.spawn(leave(deadline, [left] { *left = true; }), "leave");
  while (!*left && std::chrono::steady_clock::now() < deadline) io_.run_one_until(deadline);
  const bool in_time = *left;
  if (!in_time) spdlog::warn("cluster: stop did not finish in time");
  halt();
  const auto unwind_until = std::chrono::steady_clock::now() + kUnwindBudget;
  while (ctx_.tasks > 0 && std::chrono::steady_clock::now() < unwind_until) io_.run_one_until(unwind_until);
  if (ctx_.tasks > 0) spdlog::warn("cluster: {} engine tasks still pending at exit", ctx_.tasks);
  io_.stop();
  stop_helpers();
  return in_time;
}

void RedisEngine::Impl::stop_helpers() {
  // Their PostgreSQL clients last: the engine's loop, which fed them, has stopped.
  restorer_.stop();
  copier_.stop();
}

// ---- RedisEngine -----------------------------------------------------------------------------

RedisEngine::RedisEngine(const config::Config& config, metrics::Registry& registry, asio::io_context* loop) {
  if (!config.redis || !config.postgres) throw std::invalid_argument("cluster mode needs both [redis] and [postgres]");
  if (config.server.node_id.empty() || config.server.node_id.find('/') != std::string::npos) {
    throw std::invalid_argument("server.node_id must be non-empty and must not contain '/' in cluster mode");
  }
  impl_ = std::make_shared<Impl>(config, registry, loop);
}

RedisEngine::~RedisEngine() { impl_->stop(std::chrono::seconds(5)); }

const std::string& RedisEngine::instance() const { return impl_->ctx_.instance; }
void RedisEngine::start(EngineHost& host) { impl_->start(host); }
void RedisEngine::submit(Submission submission, std::function<void(Outcome)> done) {
  impl_->submit(std::move(submission), std::move(done));
}
bool RedisEngine::can_serve() const { return impl_->link_up_.load(); }
bool RedisEngine::can_commit() const {
  return impl_->link_up_.load() && impl_->copier_.backlog() < impl_->audit_capacity_;
}
bool RedisEngine::healthy() const { return impl_->link_up_.load(); }
void RedisEngine::presence(const std::string& room_id, std::function<void(std::optional<std::size_t>)> done) {
  impl_->presence(room_id, std::move(done));
}
void RedisEngine::short_id(const std::string& room_id, const std::string& client_addr,
                           std::function<void(ShortIdResult)> done) {
  impl_->short_id(room_id, client_addr, std::move(done));
}
void RedisEngine::room_for_short_id(const std::string& short_id,
                                    std::function<void(std::optional<std::string>)> done) {
  impl_->room_for_short_id(short_id, std::move(done));
}
std::shared_ptr<const StatusRooms> RedisEngine::status_rooms() const { return impl_->status(); }
// Readiness while draining is the node's; the engine keeps committing disconnects until stop().
void RedisEngine::begin_drain() {}
bool RedisEngine::idle() const { return impl_->in_flight_.load() == 0; }
bool RedisEngine::stop(std::chrono::milliseconds budget) { return impl_->stop(budget); }

}  // namespace tandem::engine::redis
