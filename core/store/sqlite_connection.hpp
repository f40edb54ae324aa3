#pragma once

#include <filesystem>
#include <memory>

#include "core/store/connection.hpp"

namespace tandem::store {

enum class OpenMode {
  create,    // create the file (and its directory) when missing: migrate, serve
  existing,  // the file must exist: rooms (a missing file means "run tandem migrate")
};

// Opens the SQLite database at `file` in WAL mode with a busy timeout, so that a reader and the
// serve process's writer, or several `tandem migrate`, can share it. Throws StoreError.
std::unique_ptr<Connection> open_sqlite(const std::filesystem::path& file, OpenMode mode);

}  // namespace tandem::store
