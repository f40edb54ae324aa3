#include "core/store/migrator.hpp"

#include <algorithm>
#include <map>

#include "core/store/store_error.hpp"

namespace tandem::store {

namespace {

std::string label(int version, const std::string& name) {
  return Migration{version, name, {}}.label();
}

std::string short_checksum(const std::string& checksum) { return checksum.substr(0, 12); }

}  // namespace

Migrator::Migrator(Connection& db) : Migrator(db, embedded_migrations(db.backend())) {}

Migrator::Migrator(Connection& db, std::span<const Migration> migrations) : db_(db), migrations_(migrations) {}

int Migrator::latest() const { return migrations_.empty() ? 0 : migrations_.back().version; }

void Migrator::create_history_table() {
  if (db_.backend() == Backend::postgres) {
    db_.execute_script(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " checksum TEXT NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
  } else {
    db_.execute_script(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " checksum TEXT NOT NULL,"
        " applied_at INTEGER NOT NULL DEFAULT (" + db_.now_ms() + "))");
  }
}

std::vector<Migrator::Record> Migrator::recorded() {
  std::vector<Record> records;
  if (!db_.has_table(kHistoryTable)) return records;
  const auto rows = db_.query("SELECT version, name, checksum, " + db_.epoch_ms("applied_at") +
                              " FROM schema_migrations ORDER BY version");
  for (const auto& row : rows) {
    records.push_back({static_cast<int>(row.integer(0)), row.text(1), row.text(2), row.integer(3)});
  }
  return records;
}

void Migrator::verify(const std::vector<Record>& records) const {
  for (const auto& record : records) {
    const auto known = std::find_if(migrations_.begin(), migrations_.end(),
                                    [&](const Migration& m) { return m.version == record.version; });
    if (known == migrations_.end()) {
      throw StoreError(StoreError::Kind::schema,
                       "the database has migration " + label(record.version, record.name) +
                           ", which this tandem does not know (it knows up to " + std::to_string(latest()) +
                           "): the database is newer than this binary; use a newer tandem");
    }
    const std::string expected = known->checksum();
    if (record.checksum != expected) {
      throw StoreError(StoreError::Kind::schema,
                       "migration " + known->label() + " was changed after it was applied (checksum " +
                           short_checksum(record.checksum) + "… in the database, " + short_checksum(expected) +
                           "… in this binary): restore the original file and add a new migration instead");
    }
  }
}

std::vector<MigrationStatus> Migrator::status() {
  const auto records = recorded();
  std::map<int, MigrationStatus> by_version;
  for (const auto& m : migrations_) {
    by_version[m.version] = {m.version, std::string(m.name), MigrationStatus::State::pending, std::nullopt};
  }
  for (const auto& record : records) {
    auto it = by_version.find(record.version);
    if (it == by_version.end()) {
      by_version[record.version] = {record.version, record.name, MigrationStatus::State::unknown, record.applied_at_ms};
      continue;
    }
    const auto known = std::find_if(migrations_.begin(), migrations_.end(),
                                    [&](const Migration& m) { return m.version == record.version; });
    it->second.state = record.checksum == known->checksum() ? MigrationStatus::State::applied
                                                            : MigrationStatus::State::changed;
    it->second.applied_at_ms = record.applied_at_ms;
  }
  std::vector<MigrationStatus> result;
  for (auto& [version, s] : by_version) result.push_back(std::move(s));
  return result;
}

std::vector<Migration> Migrator::pending(std::optional<int> target) {
  const auto records = recorded();
  verify(records);
  std::vector<Migration> result;
  for (const auto& m : migrations_) {
    if (target && m.version > *target) break;
    const bool done = std::any_of(records.begin(), records.end(), [&](const Record& r) { return r.version == m.version; });
    if (!done) result.push_back(m);
  }
  return result;
}

int Migrator::up(std::optional<int> target, const Progress& applied) {
  db_.lock_schema(kSchemaLockTimeout);
  int count = 0;
  try {
    create_history_table();
    for (const auto& m : pending(target)) {
      const auto started = std::chrono::steady_clock::now();
      Transaction tx(db_);
      // Re-check under the write lock: a concurrent migrator may have applied it meanwhile.
      if (!db_.query("SELECT 1 FROM schema_migrations WHERE version = " + db_.param(1),
                     {static_cast<std::int64_t>(m.version)})
               .empty()) {
        continue;
      }
      db_.execute_script(m.sql);
      db_.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (" + db_.param(1) + ", " +
                    db_.param(2) + ", " + db_.param(3) + ")",
                {static_cast<std::int64_t>(m.version), std::string(m.name), m.checksum()});
      tx.commit();
      ++count;
      if (applied) {
        applied(m, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started));
      }
    }
  } catch (...) {
    try {
      db_.unlock_schema();
    } catch (...) {  // the session is gone, and its lock with it
    }
    throw;
  }
  db_.unlock_schema();
  return count;
}

void require_current_schema(Connection& db) {
  Migrator migrator(db);
  int missing = 0;
  int first_missing = 0;
  int applied = 0;
  for (const auto& s : migrator.status()) {
    if (s.state == MigrationStatus::State::pending) {
      if (missing++ == 0) first_missing = s.version;
    } else {
      applied = std::max(applied, s.version);
    }
  }
  if (applied == 0) {
    throw StoreError(StoreError::Kind::schema, db.description() + " has no tandem schema: run tandem migrate");
  }
  if (missing > 0) {
    throw StoreError(StoreError::Kind::schema,
                     db.description() + " lacks migration " + std::to_string(first_missing) + " (" +
                         std::to_string(missing) + " pending, this tandem needs version " +
                         std::to_string(migrator.latest()) + "): run tandem migrate");
  }
}

}  // namespace tandem::store
