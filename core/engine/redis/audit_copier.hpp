#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "core/engine/journal.hpp"
#include "core/engine/redis/commit.hpp"
#include "core/engine/redis/context.hpp"
#include "core/store/pg_writer.hpp"

namespace tandem::engine::redis {

class RedisLink;

// Copies the audit stream ({p}audit, written by the commit script atomically with each change)
// to PostgreSQL, with the latest room snapshots and minted short ids.
//
// * XREADGROUP (batches of audit.batch_size) → one PostgreSQL transaction (idempotent through
//   event_uid) → XACK + XDEL. Entries a dead copier had read but not acknowledged are taken over
//   with XAUTOCLAIM after 2 × node_ttl. PostgreSQL down: the batch is retried with backoff while
//   the stream keeps the backlog (bounded: state changes are refused at audit.queue_capacity).
//   A record PostgreSQL refuses as data is set aside by PgWriter (dead_letters) and acknowledged
//   with its batch, never retried.
// * backlog() is XLEN of the stream, read every kBacklogInterval.
// * Every committed audit entry of the last kRedoWindow is kept (at most audit.queue_capacity)
//   to be queued again if Redis loses its data.
class AuditCopier {
 public:
  AuditCopier(Context& ctx, RedisLink& link);
  ~AuditCopier();

  void start();
  // Lets the batch in progress finish and writes the snapshots still waiting, within `deadline`.
  awaitable<void> finish(SteadyTime deadline);
  void stop();

  void remember(const std::vector<AuditEntry>& committed);
  void put_snapshot(RoomSnapshot snapshot);
  void put_short_id(ShortIdRecord record);
  // After Redis lost its data: queue the remembered entries again.
  void requeue();

  std::size_t backlog() const { return backlog_.load(); }
  bool postgres_healthy() const { return pg_.healthy(); }

 private:
  struct RedoEntry {
    SteadyTime at;
    std::vector<std::string> fields;
  };

  awaitable<void> copy_loop();
  awaitable<void> backlog_loop();
  awaitable<bool> write_batch(std::vector<std::string> ids, store::PgBatch batch);
  awaitable<bool> write(store::PgBatch batch);

  Context& ctx_;
  RedisLink& link_;
  store::PgWriter pg_;
  const std::size_t capacity_;
  std::atomic<std::size_t> backlog_{0};
  std::deque<RedoEntry> redo_;
  std::map<std::string, RoomSnapshot> snapshots_;  // latest per room
  std::vector<ShortIdRecord> short_ids_;
  bool busy_ = false;
  bool stopping_ = false;
};

}  // namespace tandem::engine::redis
