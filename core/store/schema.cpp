#include "core/store/schema.hpp"

#include <spdlog/spdlog.h>

#include "core/store/migrator.hpp"
#include "core/store/sqlite_connection.hpp"

namespace tandem::store {

void ensure_sqlite_schema(const std::filesystem::path& db_file) {
  auto db = open_sqlite(db_file, OpenMode::create);
  Migrator migrator(*db);
  migrator.up(std::nullopt, [&](const Migration& m, std::chrono::milliseconds elapsed) {
    spdlog::info("applied migration {} to {} in {} ms", m.label(), db_file.string(), elapsed.count());
  });
}

}  // namespace tandem::store
