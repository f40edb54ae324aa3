#pragma once

#include <memory>

#include "core/config/config.hpp"
#include "core/store/connection.hpp"

namespace tandem::store {

// Connects to PostgreSQL with `settings` (libpq: connect_timeout, application_name "tandem";
// the PG* environment variables libpq honours, e.g. PGOPTIONS, still apply). Throws
// StoreError(Kind::connection) with one line naming user@host:port/database and libpq's reason
// (refused, timeout, authentication, missing database) — never the password.
std::unique_ptr<Connection> open_postgres(const config::Postgres& settings);

}  // namespace tandem::store
