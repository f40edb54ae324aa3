#include "core/store/postgres_connection.hpp"

#include <pqxx/pqxx>

#include <algorithm>
#include <charconv>
#include <optional>

#include "core/store/store_error.hpp"

namespace tandem::store {

namespace {

// The advisory lock key serialising schema changes: "tandem" in ASCII.
constexpr long long kSchemaLockKey = 0x74616e64656dLL;

// PostgreSQL type oids (pg_type.h) that map to numbers.
constexpr pqxx::oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700, kFloat8 = 701, kNumeric = 1700;

std::string quote_conninfo(const std::string& value) {
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('\'');
  return quoted;
}

// The first line of a libpq / server message, without "FATAL:" and the "connection to server
// at ... failed:" preamble, e.g. `database "x" does not exist`.
std::string reason_of(const std::string& what) {
  std::string line = what.substr(0, what.find('\n'));
  if (const auto failed = line.find("failed: "); failed != std::string::npos) line = line.substr(failed + 8);
  for (std::string_view prefix : {"FATAL:  ", "ERROR:  ", "FATAL: ", "ERROR: "}) {
    if (line.starts_with(prefix)) line = line.substr(prefix.size());
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line.empty() ? "connection failed" : line;
}

std::string to_text(const Value& value) {
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  if (const auto* n = std::get_if<std::int64_t>(&value)) return std::to_string(*n);
  if (const auto* d = std::get_if<double>(&value)) {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, *d);
    return std::string(buffer, result.ptr);
  }
  return {};
}

class PostgresConnection final : public Connection {
 public:
  PostgresConnection(std::unique_ptr<pqxx::connection> connection, std::string description)
      : connection_(std::move(connection)), description_(std::move(description)) {}

  ~PostgresConnection() override {
    transaction_.reset();
  }

  Backend backend() const override { return Backend::postgres; }
  std::string description() const override { return description_; }

  void execute_script(std::string_view sql) override {
    run([&](pqxx::transaction_base& tx) { tx.exec(std::string(sql)); });
  }

  std::vector<Row> query(std::string_view sql, const std::vector<Value>& params) override {
    std::vector<Row> rows;
    run([&](pqxx::transaction_base& tx) {
      std::vector<std::optional<std::string>> texts;
      texts.reserve(params.size());
      for (const auto& p : params) {
        texts.push_back(std::holds_alternative<std::monostate>(p) ? std::nullopt : std::optional(to_text(p)));
      }
      std::vector<const char*> pointers;
      for (const auto& t : texts) pointers.push_back(t ? t->c_str() : nullptr);
      const pqxx::result result = tx.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(pointers));
      rows.reserve(result.size());
      for (const auto& r : result) {
        Row row;
        row.cells.reserve(r.size());
        for (const auto& field : r) row.cells.push_back(cell(field));
        rows.push_back(std::move(row));
      }
    });
    return rows;
  }

  void begin() override {
    guard([&] { transaction_ = std::make_unique<pqxx::work>(*connection_); });
  }
  void commit() override {
    guard([&] {
      auto tx = std::move(transaction_);
      if (tx) tx->commit();
    });
  }
  void rollback() override {
    guard([&] {
      auto tx = std::move(transaction_);
      if (tx) tx->abort();
    });
  }

  void lock_schema(std::chrono::milliseconds timeout) override {
    try {
      execute_script("SET lock_timeout = '" + std::to_string(timeout.count()) + "ms'");
      execute_script("SELECT pg_advisory_lock(" + std::to_string(kSchemaLockKey) + ")");
      execute_script("RESET lock_timeout");
    } catch (const StoreError& e) {
      if (e.kind() != StoreError::Kind::query) throw;
      throw StoreError(StoreError::Kind::query,
                       "another tandem migrate held the migration lock for longer than " +
                           std::to_string(timeout.count() / 1000) + "s (" + e.what() + ")");
    }
  }
  void unlock_schema() override {
    execute_script("SELECT pg_advisory_unlock(" + std::to_string(kSchemaLockKey) + ")");
  }

  bool has_table(std::string_view name) override {
    return !query("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
                  {std::string(name)})
                .empty();
  }

  std::string param(int n) const override { return "$" + std::to_string(n); }
  std::string epoch_ms(std::string_view column) const override {
    return "floor(extract(epoch FROM " + std::string(column) + ") * 1000)::bigint";
  }
  std::string from_epoch_ms(std::string_view expr) const override {
    return "to_timestamp((" + std::string(expr) + ")::bigint / 1000.0)";
  }
  std::string now_ms() const override { return epoch_ms("now()"); }
  std::string lock_rows() const override { return " FOR UPDATE"; }

 private:
  static Value cell(const pqxx::field& field) {
    if (field.is_null()) return std::monostate{};
    switch (field.type()) {
      case kBool:
        return static_cast<std::int64_t>(field.c_str()[0] == 't' ? 1 : 0);
      case kInt2:
      case kInt4:
      case kInt8:
        return field.as<std::int64_t>();
      case kFloat4:
      case kFloat8:
      case kNumeric:
        return field.as<double>();
      default:
        return std::string(field.c_str(), field.size());
    }
  }

  // Runs `body` in the open transaction, or in a one-statement nontransaction (autocommit).
  template <typename Body>
  void run(Body&& body) {
    guard([&] {
      if (transaction_) {
        body(*transaction_);
      } else {
        pqxx::nontransaction tx(*connection_);
        body(tx);
      }
    });
  }

  template <typename Body>
  void guard(Body&& body) {
    try {
      body();
    } catch (const pqxx::broken_connection& e) {
      transaction_.reset();
      throw StoreError(StoreError::Kind::connection, "lost connection to " + description_ + ": " + reason_of(e.what()));
    } catch (const pqxx::sql_error& e) {
      throw StoreError(StoreError::Kind::query, description_ + ": " + reason_of(e.what()), e.sqlstate());
    } catch (const pqxx::failure& e) {
      throw StoreError(StoreError::Kind::query, description_ + ": " + reason_of(e.what()));
    }
  }

  std::unique_ptr<pqxx::connection> connection_;
  std::unique_ptr<pqxx::work> transaction_;
  std::string description_;
};

}  // namespace

std::unique_ptr<Connection> open_postgres(const config::Postgres& settings) {
  const std::string description = "postgres " + settings.user + "@" + settings.host + ":" +
                                  std::to_string(settings.port) + "/" + settings.database;
  const auto timeout_s = std::max<long long>(
      2, std::chrono::duration_cast<std::chrono::seconds>(settings.connect_timeout).count());
  std::string conninfo = "host=" + quote_conninfo(settings.host) + " port=" + std::to_string(settings.port) +
                         " dbname=" + quote_conninfo(settings.database) + " user=" + quote_conninfo(settings.user) +
                         " connect_timeout=" + std::to_string(timeout_s) + " application_name='tandem'";
  if (!settings.password.empty()) conninfo += " password=" + quote_conninfo(settings.password);
  if (!settings.sslmode.empty()) conninfo += " sslmode=" + quote_conninfo(settings.sslmode);
  if (!settings.sslrootcert.empty()) conninfo += " sslrootcert=" + quote_conninfo(settings.sslrootcert);

  std::unique_ptr<pqxx::connection> connection;
  try {
    connection = std::make_unique<pqxx::connection>(conninfo);
  } catch (const std::exception& e) {
    throw StoreError(StoreError::Kind::connection, "cannot connect to " + description + ": " + reason_of(e.what()));
  }
  auto result = std::make_unique<PostgresConnection>(std::move(connection), description);
  result->execute_script("SET client_min_messages = warning");
  return result;
}

}  // namespace tandem::store
