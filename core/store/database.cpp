#include "core/store/database.hpp"

#include "core/store/postgres_connection.hpp"

namespace tandem::store {

std::filesystem::path sqlite_path(const config::Config& config) {
  return std::filesystem::path(config.server.data_dir) / "tandem.db";
}

std::unique_ptr<Connection> open_database(const config::Config& config, OpenMode mode) {
  if (config.postgres) return open_postgres(*config.postgres);
  return open_sqlite(sqlite_path(config), mode);
}

}  // namespace tandem::store
