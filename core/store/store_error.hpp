#pragma once

#include <stdexcept>
#include <string>

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

  StoreError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}

  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

}  // namespace tandem::store
