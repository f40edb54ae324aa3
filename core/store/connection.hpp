#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/store/migration.hpp"

namespace tandem::store {

// A cell or a statement parameter. Booleans arrive as 0/1, every integer type as int64, every
// floating or numeric type as double, everything else (text, JSON, timestamps) as text.
using Value = std::variant<std::monostate, std::int64_t, double, std::string>;

struct Row {
  std::vector<Value> cells;

  bool is_null(std::size_t i) const;
  std::int64_t integer(std::size_t i) const;  // NULL -> 0
  double real(std::size_t i) const;           // NULL -> 0
  std::string text(std::size_t i) const;      // NULL -> ""
};

// One connection to tandem's database: SQLite (embedded mode) or PostgreSQL (cluster mode).
// The two implementations are chosen in one place, store::open_database(); code above this
// interface (migrator, room store) is written once and differs per backend only through the
// dialect functions at the bottom.
//
// Not thread-safe: one connection belongs to one thread at a time. Every method throws
// StoreError: Kind::connection when the database is gone, Kind::query when a statement fails.
class Connection {
 public:
  virtual ~Connection() = default;

  virtual Backend backend() const = 0;

  // Where this connection goes, for messages: "sqlite data/tandem.db",
  // "postgres tandem@db:5432/tandem". Never contains a password.
  virtual std::string description() const = 0;

  // Runs a script of one or more statements without parameters.
  virtual void execute_script(std::string_view sql) = 0;

  // Runs one statement with positional parameters, written as param(1), param(2), ... in `sql`.
  virtual std::vector<Row> query(std::string_view sql, const std::vector<Value>& params = {}) = 0;

  // Transactions. begin() on SQLite is BEGIN IMMEDIATE: it takes the database's write lock at
  // once (waiting up to the busy timeout), so a read-then-write inside it cannot race another
  // writer. Statements outside a transaction autocommit. No nesting.
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;  // no-op when no transaction is open

  // A session-wide lock that serialises schema changes among all processes using this database.
  // PostgreSQL: an advisory lock, held across transactions until unlock_schema() or the end of
  // the session; waits at most `timeout`, then throws. SQLite: a no-op (schema changes serialise
  // through begin(), and the migrator re-checks inside each transaction).
  virtual void lock_schema(std::chrono::milliseconds timeout) = 0;
  virtual void unlock_schema() = 0;

  virtual bool has_table(std::string_view name) = 0;

  // Dialect. Times are epoch milliseconds above this interface, whatever the column type.
  virtual std::string param(int n) const = 0;                      // "$1" | "?1"
  virtual std::string epoch_ms(std::string_view column) const = 0;  // column -> int64 ms
  virtual std::string from_epoch_ms(std::string_view expr) const = 0;  // int64 ms -> column type
  virtual std::string now_ms() const = 0;                          // the database's clock in ms
  virtual std::string lock_rows() const = 0;                       // " FOR UPDATE" | ""
};

// begin() now, rollback() at scope exit unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Connection& db) : db_(db) { db_.begin(); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (!done_) {
      try {
        db_.rollback();
      } catch (...) {  // the connection is gone: nothing to roll back
      }
    }
  }
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  Connection& db_;
  bool done_ = false;
};

}  // namespace tandem::store
