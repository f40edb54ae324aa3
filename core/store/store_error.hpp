#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace tandem::store {

// A database that cannot be used for the task at hand. what() is one line meant for an operator
// and never contains a password. Commands print it and exit 1.
class StoreError : public std::runtime_error {
 public:
  enum class Kind {
    connection,  // cannot reach / log in to / open the database (retryable by `migrate --wait`)
    schema,      // the schema is missing, behind, newer than this binary, or was edited
    query,       // a statement failed
  };

  StoreError(Kind kind, const std::string& message, std::string sqlstate = {})
      : std::runtime_error(message), kind_(kind), sqlstate_(std::move(sqlstate)) {}

  Kind kind() const { return kind_; }
  // PostgreSQL's SQLSTATE of a failed statement (e.g. "22P05"); empty when there is none.
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  Kind kind_;
  std::string sqlstate_;
};

}  // namespace tandem::store
