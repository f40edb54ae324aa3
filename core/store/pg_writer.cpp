#include "core/store/pg_writer.hpp"

#include <spdlog/spdlog.h>

#include <boost/algorithm/hex.hpp>

#include "core/metrics/metrics.hpp"
#include "core/store/connection.hpp"
#include "core/store/postgres_connection.hpp"
#include "core/store/store_error.hpp"
#include "core/util/thread_name.hpp"

namespace tandem::store {

namespace {

// Rows per INSERT statement (8 parameters each; PostgreSQL allows 65535 parameters).
constexpr std::size_t kRowsPerStatement = 500;

}  // namespace

PgWriter::PgWriter(config::Postgres settings, std::string node_id, metrics::Counter& errors,
                   metrics::Counter& dead_letters)
    : settings_(std::move(settings)),
      node_id_(std::move(node_id)),
      errors_(errors),
      dead_letters_(dead_letters),
      thread_([this] { run(); }) {}

PgWriter::~PgWriter() { stop(); }

void PgWriter::write(PgBatch batch, std::function<void(bool)> done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      tasks_.push_back(Task{std::move(batch), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  if (done) done(false);
}

void PgWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<Task> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(tasks_);
  }
  for (auto& task : left) {
    if (task.done) task.done(false);
  }
}

void PgWriter::run() {
  util::name_this_thread("pg-writer");
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      if (stopping_) return;  // queued batches are answered by stop()
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    const bool ok = execute(task.batch);
    healthy_.store(ok);
    if (task.done) task.done(ok);
  }
}

bool PgWriter::execute(const PgBatch& batch) {
  const Attempt whole = attempt(batch);
  if (whole.outcome != Attempt::Outcome::rejected) return whole.outcome == Attempt::Outcome::committed;
  // Some record is refused as data: each on its own finds it, and the others still go in order.
  for (const auto& e : batch.events) {
    if (!write_alone(PgBatch{{e}, {}, {}}, "event", e.uid, dead_letter_record(e))) return false;
  }
  for (const auto& r : batch.rooms) {
    if (!write_alone(PgBatch{{}, {r}, {}}, "room", r.room_id, dead_letter_record(r))) return false;
  }
  for (const auto& s : batch.short_ids) {
    if (!write_alone(PgBatch{{}, {}, {s}}, "short_id", s.short_id, dead_letter_record(s))) return false;
  }
  return true;
}

bool PgWriter::write_alone(const PgBatch& one, std::string_view kind, std::string_view key,
                           const std::string& record) {
  const Attempt result = attempt(one);
  if (result.outcome == Attempt::Outcome::rejected) set_aside(kind, key, record, result);
  return result.outcome != Attempt::Outcome::failed;
}

void PgWriter::set_aside(std::string_view kind, std::string_view key, const std::string& record,
                         const Attempt& refusal) {
  dead_letters_.inc();
  try {
    if (!db_) db_ = open_postgres(settings_);
    // As hex, decoded to bytea by the server: no byte of the record can make this insert fail.
    db_->query("INSERT INTO dead_letters (kind, record, error, error_code, node_id)"
               " VALUES ($1, decode($2, 'hex'), $3, $4, $5)",
               {std::string(kind), boost::algorithm::hex_lower(record), refusal.error, refusal.sqlstate, node_id_});
    dead_letter_log_.set_aside(kind, key, refusal.error);
  } catch (const StoreError& e) {
    dead_letter_log_.dropped(kind, key, refusal.error + "; dead_letters: " + e.what());
    if (e.kind() == StoreError::Kind::connection) db_.reset();
  } catch (const std::exception& e) {
    dead_letter_log_.dropped(kind, key, refusal.error + "; dead_letters: " + e.what());
    db_.reset();
  }
}

PgWriter::Attempt PgWriter::attempt(const PgBatch& batch) {
  try {
    if (!db_) db_ = open_postgres(settings_);
    Connection& db = *db_;
    Transaction tx(db);
    for (std::size_t start = 0; start < batch.events.size(); start += kRowsPerStatement) {
      const std::size_t end = std::min(batch.events.size(), start + kRowsPerStatement);
      std::string sql =
          "INSERT INTO room_events (room_id, event_type, user_id, data, created_at, seq, node_id, event_uid) VALUES ";
      std::vector<Value> params;
      params.reserve((end - start) * 8);
      int n = 0;
      for (std::size_t i = start; i < end; ++i) {
        const auto& e = batch.events[i];
        if (i != start) sql += ", ";
        sql += "(" + db.param(n + 1) + ", " + db.param(n + 2) + ", " + db.param(n + 3) + ", " + db.param(n + 4) +
               "::jsonb, " + db.from_epoch_ms(db.param(n + 5)) + ", " + db.param(n + 6) + ", " + db.param(n + 7) +
               ", " + db.param(n + 8) + ")";
        n += 8;
        params.emplace_back(e.room_id);
        params.emplace_back(e.type);
        params.push_back(e.user_id.empty() ? Value{} : Value{e.user_id});
        params.emplace_back(e.detail);
        params.emplace_back(e.at);
        params.emplace_back(e.seq);
        params.emplace_back(e.node_id);
        params.emplace_back(e.uid);
      }
      sql += " ON CONFLICT (event_uid) DO NOTHING";
      db.query(sql, params);
    }
    for (const auto& r : batch.rooms) {
      const std::string sql =
          "INSERT INTO rooms (id, host_user_id, current_url, \"current_time\", is_playing, guest_control_enabled,"
          " created_at, updated_at, archived_at, state, member_count, seq, snapshot, last_activity) VALUES ($1, $2,"
          " $3, $4, $5, $6, " + db.from_epoch_ms("$7") + ", " + db.from_epoch_ms("$8") + ", CASE WHEN $9 = 'archived'"
          " THEN " + db.from_epoch_ms("$8") + " END, $9, $10, $11, $12::jsonb, " + db.from_epoch_ms("$8") + ")"
          " ON CONFLICT (id) DO UPDATE SET host_user_id = excluded.host_user_id, current_url = excluded.current_url,"
          " \"current_time\" = excluded.\"current_time\", is_playing = excluded.is_playing,"
          " guest_control_enabled = excluded.guest_control_enabled, updated_at = excluded.updated_at,"
          " archived_at = excluded.archived_at, state = excluded.state, member_count = excluded.member_count,"
          " seq = excluded.seq, snapshot = excluded.snapshot, last_activity = excluded.last_activity"
          " WHERE (rooms.last_activity, rooms.seq) <= (excluded.last_activity, excluded.seq)";
      db.query(sql, {r.room_id, r.host_user_id.empty() ? Value{} : Value{r.host_user_id}, r.url,
                     r.current_time, std::int64_t{r.is_playing ? 1 : 0}, std::int64_t{r.guest_control ? 1 : 0},
                     r.created_at, r.last_activity, r.state, r.member_count, static_cast<std::int64_t>(r.seq),
                     r.document});
    }
    for (const auto& s : batch.short_ids) {
      // One short id per room (room_id is UNIQUE): a newer id replaces an expired one.
      db.query("DELETE FROM short_ids WHERE room_id = $1 AND short_id <> $2", {s.room_id, s.short_id});
      db.query("INSERT INTO short_ids (short_id, room_id, created_at, expires_at) VALUES ($1, $2, " +
                   db.from_epoch_ms("$3") + ", " + db.from_epoch_ms("$4") +
                   ") ON CONFLICT (short_id) DO UPDATE SET room_id = excluded.room_id, expires_at = excluded.expires_at",
               {s.short_id, s.room_id, s.created_at, s.expires_at});
    }
    tx.commit();
    return {};
  } catch (const StoreError& e) {
    if (e.kind() == StoreError::Kind::query && postgres_rejects_data(e.sqlstate())) {
      return {Attempt::Outcome::rejected, e.what(), e.sqlstate()};
    }
    return failed(e, batch);
  } catch (const std::exception& e) {
    return failed(e, batch);
  }
}

PgWriter::Attempt PgWriter::failed(const std::exception& e, const PgBatch& batch) {
  errors_.inc();
  if (healthy_.load()) spdlog::error("postgres: write of {} audit events failed: {}", batch.events.size(), e.what());
  db_.reset();
  return {Attempt::Outcome::failed, e.what(), {}};
}

}  // namespace tandem::store
