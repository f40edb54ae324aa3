#pragma once

#include <span>
#include <string>
#include <string_view>

namespace tandem::store {

enum class Backend { sqlite, postgres };

std::string_view to_string(Backend backend);

// One versioned, append-only SQL file of migrations/<backend>/NNNN_name.sql, embedded in the
// binary at build time (core/store/EmbedMigrations.cmake). Both backends carry the same versions
// and names: one logical schema, two dialects.
struct Migration {
  int version;            // NNNN, starting at 1, without gaps
  std::string_view name;  // the file name's part after "NNNN_", without ".sql"
  std::string_view sql;   // the whole file; run as one script inside one transaction

  // Lower-case hex SHA-256 of `sql`, recorded in schema_migrations when applied. A recorded
  // checksum that differs from the embedded one means the file was edited after it was applied.
  std::string checksum() const;

  // "0002_tandem_rooms"
  std::string label() const;
};

// The embedded migrations of `backend`, ordered by version. Generated at build time.
std::span<const Migration> embedded_migrations(Backend backend);

}  // namespace tandem::store
