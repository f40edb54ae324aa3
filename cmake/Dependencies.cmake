# Every third-party dependency comes from a Debian 12 package (see scripts/deps).
find_package(Threads REQUIRED)
find_package(Boost 1.81 EXACT REQUIRED COMPONENTS json url)
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PkgConfig REQUIRED)
# libpqxx and hiredis are found through pkg-config only (hiredis' CMake config is broken on Debian 12).
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
# jemalloc replaces glibc's malloc in the executable: the node allocates small objects on every
# frame from several threads, where glibc's arenas cost ~20 % of a cluster node's CPU (measured in
# docs/performance.md). Not with the sanitizers, which bring their own allocator.
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
# The metrics registry, families and text format (prometheus-cpp-dev; only its core library).
find_package(prometheus-cpp CONFIG REQUIRED)  # Debian 12: 1.0.1, its config file carries no version
if(TANDEM_BUILD_TESTS AND NOT TANDEM_FUZZ)
  find_package(Catch2 2 REQUIRED)
endif()
