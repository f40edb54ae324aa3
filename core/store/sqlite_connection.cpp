#include "core/store/sqlite_connection.hpp"

#include <sqlite3.h>

#include <system_error>

#include "core/store/store_error.hpp"

namespace tandem::store {

namespace {

// How long a statement waits for another connection's write lock before failing.
constexpr int kBusyTimeoutMs = 60'000;

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(sqlite3* db, std::filesystem::path file) : db_(db, &sqlite3_close_v2), file_(std::move(file)) {}

  Backend backend() const override { return Backend::sqlite; }
  std::string description() const override { return "sqlite " + file_.string(); }

  void execute_script(std::string_view sql) override {
    char* message = nullptr;
    const std::string script(sql);
    if (sqlite3_exec(db_.get(), script.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string text = message ? message : sqlite3_errmsg(db_.get());
      sqlite3_free(message);
      fail(text);
    }
  }

  std::vector<Row> query(std::string_view sql, const std::vector<Value>& params) override {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
      fail(sqlite3_errmsg(db_.get()));
    }
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> statement(raw, &sqlite3_finalize);
    for (std::size_t i = 0; i < params.size(); ++i) bind(raw, static_cast<int>(i + 1), params[i]);

    std::vector<Row> rows;
    for (;;) {
      const int rc = sqlite3_step(raw);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail(sqlite3_errmsg(db_.get()));
      Row row;
      const int columns = sqlite3_column_count(raw);
      row.cells.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) row.cells.push_back(column(raw, c));
      rows.push_back(std::move(row));
    }
    return rows;
  }

  void begin() override { execute_script("BEGIN IMMEDIATE"); }
  void commit() override { execute_script("COMMIT"); }
  void rollback() override {
    if (sqlite3_get_autocommit(db_.get()) == 0) execute_script("ROLLBACK");
  }

  void lock_schema(std::chrono::milliseconds) override {}
  void unlock_schema() override {}

  bool has_table(std::string_view name) override {
    return !query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", {std::string(name)}).empty();
  }

  std::string param(int n) const override { return "?" + std::to_string(n); }
  std::string epoch_ms(std::string_view column) const override { return std::string(column); }
  std::string from_epoch_ms(std::string_view expr) const override { return std::string(expr); }
  std::string now_ms() const override { return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"; }
  std::string lock_rows() const override { return ""; }

 private:
  static void bind(sqlite3_stmt* statement, int index, const Value& value) {
    if (const auto* n = std::get_if<std::int64_t>(&value)) {
      sqlite3_bind_int64(statement, index, *n);
    } else if (const auto* d = std::get_if<double>(&value)) {
      sqlite3_bind_double(statement, index, *d);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      sqlite3_bind_text(statement, index, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(statement, index);
    }
  }

  static Value column(sqlite3_stmt* statement, int c) {
    switch (sqlite3_column_type(statement, c)) {
      case SQLITE_INTEGER:
        return static_cast<std::int64_t>(sqlite3_column_int64(statement, c));
      case SQLITE_FLOAT:
        return sqlite3_column_double(statement, c);
      case SQLITE_NULL:
        return std::monostate{};
      default: {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, c));
        return std::string(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(statement, c)));
      }
    }
  }

  [[noreturn]] void fail(const std::string& message) const {
    throw StoreError(StoreError::Kind::query, "sqlite " + file_.string() + ": " + message);
  }

  std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> db_;
  std::filesystem::path file_;
};

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::filesystem::path& file, OpenMode mode) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (mode == OpenMode::create) {
    flags |= SQLITE_OPEN_CREATE;
    if (file.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(file.parent_path(), ec);
      if (ec) {
        throw StoreError(StoreError::Kind::connection,
                         "cannot create directory " + file.parent_path().string() + ": " + ec.message());
      }
    }
  } else if (!std::filesystem::exists(file)) {
    throw StoreError(StoreError::Kind::schema, "no database at " + file.string() + ": run tandem migrate");
  }

  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string reason = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    throw StoreError(StoreError::Kind::connection, "cannot open sqlite " + file.string() + ": " + reason);
  }
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  auto connection = std::make_unique<SqliteConnection>(raw, file);
  connection->execute_script("PRAGMA journal_mode = WAL");
  return connection;
}

}  // namespace tandem::store
