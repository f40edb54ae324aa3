#pragma once

#include <filesystem>
#include <memory>

#include "core/config/config.hpp"
#include "core/store/connection.hpp"
#include "core/store/sqlite_connection.hpp"

namespace tandem::store {

// The embedded database file: server.data_dir/tandem.db.
std::filesystem::path sqlite_path(const config::Config& config);

// The one place that picks the backend: PostgreSQL when [postgres] is configured, else the
// SQLite file at sqlite_path(). `mode` applies to SQLite only. Throws StoreError.
std::unique_ptr<Connection> open_database(const config::Config& config, OpenMode mode);

}  // namespace tandem::store
