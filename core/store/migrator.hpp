#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/store/connection.hpp"
#include "core/store/migration.hpp"

namespace tandem::store {

// The table recording applied migrations (created by the migrator itself, not by a migration):
//   schema_migrations(version INTEGER PRIMARY KEY, name TEXT, checksum TEXT, applied_at)
// applied_at is timestamptz in PostgreSQL and epoch milliseconds in SQLite.
inline constexpr std::string_view kHistoryTable = "schema_migrations";

// How long `up` waits for another migrator's lock (PostgreSQL) before giving up.
inline constexpr std::chrono::minutes kSchemaLockTimeout{15};

struct MigrationStatus {
  enum class State {
    applied,  // recorded, checksum matches
    pending,  // embedded, not recorded
    changed,  // recorded with a checksum that differs from the embedded file
    unknown,  // recorded, not embedded: the database is newer than this binary
  };
  int version = 0;
  std::string name;
  State state = State::pending;
  std::optional<std::int64_t> applied_at_ms;
};

// Brings a database to the embedded schema. Each migration runs in its own transaction together
// with its schema_migrations row, so a migration is either fully applied and recorded or not at
// all. Safe when several processes run it at once:
//  * PostgreSQL: the whole run holds an advisory lock; the others wait for it, then find
//    nothing left to do.
//  * SQLite: each migration runs under BEGIN IMMEDIATE (the write lock) and re-checks that it is
//    still unrecorded before applying.
class Migrator {
 public:
  // `migrations` defaults to the embedded ones for the connection's backend.
  explicit Migrator(Connection& db);
  Migrator(Connection& db, std::span<const Migration> migrations);

  // Every embedded and every recorded migration, ordered by version. Reads only.
  std::vector<MigrationStatus> status();

  // The migrations `up(target)` would apply, in order. Throws StoreError(schema) when a
  // recorded migration changed or is unknown.
  std::vector<Migration> pending(std::optional<int> target = std::nullopt);

  // Applies the pending migrations up to and including `target` (all when empty), calling
  // `applied(migration, elapsed)` after each commit. Returns the number applied by this call.
  // Throws StoreError(schema) for a changed or unknown recorded migration, before applying
  // anything.
  using Progress = std::function<void(const Migration&, std::chrono::milliseconds)>;
  int up(std::optional<int> target = std::nullopt, const Progress& applied = {});

  // The highest embedded version.
  int latest() const;

 private:
  struct Record {
    int version;
    std::string name;
    std::string checksum;
    std::int64_t applied_at_ms;
  };

  std::vector<Record> recorded();
  void verify(const std::vector<Record>& records) const;
  void create_history_table();

  Connection& db_;
  std::span<const Migration> migrations_;
};

// Throws StoreError(schema) with "... run tandem migrate" unless every embedded migration is
// recorded in `db` (a database newer than the binary is accepted: migrations only add).
void require_current_schema(Connection& db);

}  // namespace tandem::store
