#include "core/engine/redis/audit_copier.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "core/engine/redis/link.hpp"

namespace tandem::engine::redis {

namespace {

constexpr auto kBacklogInterval = 1s;
constexpr auto kPgRetryMin = 500ms;
constexpr auto kPgRetryMax = 5s;
constexpr auto kClaimInterval = 5s;
constexpr auto kRedoWindow = 120s;  // audit entries kept for re-sending after Redis lost its data
constexpr std::size_t kMaxPendingShortIds = 10'000;
constexpr auto kConsumerCleanupInterval = 60s;
constexpr std::int64_t kConsumerIdleLimitMs = 600'000;
const std::string kGroup = "tandem";

AuditEvent event_from_fields(const std::vector<Reply>& fields, const std::string& stream_id) {
  AuditEvent event;
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
  if (event.uid.empty()) event.uid = "stream-" + stream_id;
  if (event.detail.empty()) event.detail = "{}";
  return event;
}

}  // namespace

AuditCopier::AuditCopier(Context& ctx, RedisLink& link)
    : ctx_(ctx),
      link_(link),
      pg_(*ctx.config.postgres, ctx.instance, ctx.metrics.postgres_errors, ctx.metrics.dead_letters),
      capacity_(static_cast<std::size_t>(ctx.config.audit.queue_capacity)) {}

AuditCopier::~AuditCopier() { pg_.stop(); }

void AuditCopier::start() {
  ctx_.spawn(copy_loop(), "audit copier");
  ctx_.spawn(backlog_loop(), "audit backlog");
}

void AuditCopier::stop() {
  stopping_ = true;
  pg_.stop();
}

void AuditCopier::remember(const std::vector<AuditEntry>& committed) {
  const auto steady = std::chrono::steady_clock::now();
  for (const auto& entry : committed) redo_.push_back(RedoEntry{steady, entry.fields});
  while (!redo_.empty() && (redo_.size() > capacity_ || steady - redo_.front().at > kRedoWindow)) redo_.pop_front();
}

void AuditCopier::put_snapshot(RoomSnapshot snapshot) {
  const std::string id = snapshot.room_id;
  snapshots_[id] = std::move(snapshot);
}

void AuditCopier::put_short_id(ShortIdRecord record) {
  if (short_ids_.size() < kMaxPendingShortIds) short_ids_.push_back(std::move(record));
}

void AuditCopier::requeue() {
  // Audit records of the last minutes may not have reached PostgreSQL: send them again
  // (event_uid makes the copy idempotent).
  for (const auto& entry : redo_) {
    std::vector<std::string> args{"XADD", ctx_.keys.audit(), "*"};
    args.insert(args.end(), entry.fields.begin(), entry.fields.end());
    link_.fire(std::move(args));
  }
  if (!redo_.empty()) spdlog::warn("cluster: re-queued {} recent audit records", redo_.size());
}

awaitable<bool> AuditCopier::write(store::PgBatch batch) {
  const bool committed = co_await asio::async_initiate<decltype(use_awaitable), void(bool)>(
      [this](auto handler, store::PgBatch b) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        pg_.write(std::move(b), [shared, this](bool ok) { asio::post(ctx_.io, [shared, ok] { (*shared)(ok); }); });
      },
      use_awaitable, std::move(batch));
  co_return committed;
}

awaitable<void> AuditCopier::finish(SteadyTime deadline) {
  stopping_ = true;
  while (busy_ && std::chrono::steady_clock::now() < deadline) co_await ctx_.sleep_for(20ms);
  if (!snapshots_.empty() || !short_ids_.empty()) {
    store::PgBatch batch;
    for (auto& [id, snap] : snapshots_) batch.rooms.push_back(std::move(snap));
    snapshots_.clear();
    batch.short_ids = std::exchange(short_ids_, {});
    co_await write(std::move(batch));
  }
}

awaitable<void> AuditCopier::backlog_loop() {
  while (!stopping_) {
    if (link_.up()) {
      const auto len = co_await link_.callv("XLEN", ctx_.keys.audit());
      if (len.type == Reply::Type::integer) backlog_.store(static_cast<std::size_t>(len.integer));
    }
    co_await ctx_.sleep_for(kBacklogInterval);
  }
}

awaitable<void> AuditCopier::copy_loop() {
  const std::size_t batch_size = static_cast<std::size_t>(ctx_.config.audit.batch_size);
  const auto flush = ctx_.config.audit.flush_interval;
  const auto node_ttl = ctx_.config.cluster.node_ttl;
  const auto min_idle = std::to_string(std::max<std::int64_t>(2 * node_ttl.count(), 1000));
  const auto& keys = ctx_.keys;
  auto last_claim = std::chrono::steady_clock::now();
  auto last_cleanup = std::chrono::steady_clock::now();
  auto last_flush = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (!link_.up()) {
      co_await ctx_.sleep_for(200ms);
      continue;
    }
    auto reply = co_await link_.callv("XREADGROUP", "GROUP", kGroup, ctx_.instance, "COUNT",
                                      std::to_string(batch_size), "STREAMS", keys.audit(), ">");
    if (reply.type == Reply::Type::error && reply.text.starts_with("NOGROUP")) {
      co_await link_.callv("XGROUP", "CREATE", keys.audit(), kGroup, "0", "MKSTREAM");
      continue;
    }
    const Reply* entries = nullptr;
    if (reply.type == Reply::Type::array && !reply.elements.empty() && reply.elements[0].elements.size() == 2) {
      entries = &reply.elements[0].elements[1];
    }
    Reply claimed;
    const auto steady = std::chrono::steady_clock::now();
    if ((!entries || entries->elements.empty()) && steady - last_claim >= kClaimInterval) {
      last_claim = steady;
      claimed = co_await link_.callv("XAUTOCLAIM", keys.audit(), kGroup, ctx_.instance, min_idle, "0-0", "COUNT",
                                     std::to_string(batch_size));
      if (claimed.type == Reply::Type::array && claimed.elements.size() >= 2) entries = &claimed.elements[1];
    }
    if (steady - last_cleanup >= kConsumerCleanupInterval) {
      last_cleanup = steady;
      const auto consumers = co_await link_.callv("XINFO", "CONSUMERS", keys.audit(), kGroup);
      for (const auto& c : consumers.elements) {
        std::string name;
        std::int64_t pending = -1, idle = 0;
        for (std::size_t i = 0; i + 1 < c.elements.size(); i += 2) {
          if (c.elements[i].text == "name") name = c.elements[i + 1].text;
          if (c.elements[i].text == "pending") pending = c.elements[i + 1].integer;
          if (c.elements[i].text == "idle") idle = c.elements[i + 1].integer;
        }
        if (name != ctx_.instance && pending == 0 && idle > kConsumerIdleLimitMs) {
          link_.fire({"XGROUP", "DELCONSUMER", keys.audit(), kGroup, name});
        }
      }
    }
    store::PgBatch batch;
    std::vector<std::string> ids;
    if (entries) {
      for (const auto& e : entries->elements) {
        if (e.elements.size() != 2 || e.elements[0].type != Reply::Type::string) continue;
        ids.push_back(e.elements[0].text);
        batch.events.push_back(event_from_fields(e.elements[1].elements, ids.back()));
      }
    }
    const bool snapshots_due = !snapshots_.empty() && steady - last_flush >= flush;
    if (batch.events.empty() && !snapshots_due && short_ids_.empty()) {
      co_await ctx_.sleep_for(flush);
      continue;
    }
    last_flush = steady;
    for (auto& [id, snap] : snapshots_) batch.rooms.push_back(std::move(snap));
    snapshots_.clear();
    batch.short_ids = std::exchange(short_ids_, {});
    const std::size_t count = batch.events.size();
    if (co_await write_batch(ids, std::move(batch))) ctx_.metrics.audit_written.inc(count);
  }
}

awaitable<bool> AuditCopier::write_batch(std::vector<std::string> ids, store::PgBatch batch) {
  busy_ = true;
  auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kPgRetryMin);
  bool logged = false;
  for (;;) {
    store::PgBatch attempt = batch;
    if (co_await write(std::move(attempt))) break;
    ctx_.metrics.backend_errors.with("postgres").inc();
    if (!logged) spdlog::warn("cluster: PostgreSQL unavailable; {} audit records wait in Redis", backlog_.load());
    logged = true;
    if (stopping_) {
      busy_ = false;
      co_return false;  // the entries stay pending in Redis; another node claims them
    }
    co_await ctx_.sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kPgRetryMax));
  }
  if (logged) spdlog::info("cluster: PostgreSQL is back; audit copying resumed");
  if (!ids.empty()) {
    std::vector<std::string> ack{"XACK", ctx_.keys.audit(), kGroup};
    ack.insert(ack.end(), ids.begin(), ids.end());
    co_await link_.call(std::move(ack));
    std::vector<std::string> del{"XDEL", ctx_.keys.audit()};
    del.insert(del.end(), ids.begin(), ids.end());
    co_await link_.call(std::move(del));
  }
  busy_ = false;
  co_return true;
}

}  // namespace tandem::engine::redis
