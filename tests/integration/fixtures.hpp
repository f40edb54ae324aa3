#pragma once

// RAII fixtures for tests that need real services. Settings come from the environment written
// by `scripts/services start` (source /tmp/tandem-services/env). A fixture whose settings are
// missing or whose service does not answer FAILS the test with the reason: integration tests
// never skip silently.

#include <hiredis/hiredis.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tandem::testing {

// "<prefix><16 random hex digits>", unique per call.
std::string unique_name(const std::string& prefix);

// A fresh directory under the system temp directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A schema `t_<random hex>` of its own in the test database (TANDEM_TEST_PG_HOST, _PORT, _USER,
// _PASSWORD, _DB), dropped with everything in it (CASCADE) on destruction.
class PgFixture {
 public:
  PgFixture();
  ~PgFixture();
  PgFixture(const PgFixture&) = delete;
  PgFixture& operator=(const PgFixture&) = delete;

  const std::string& schema() const { return schema_; }

  // A libpq connection string whose sessions use the schema (search_path set through
  // `options`), so code under test needs no knowledge of it.
  const std::string& connection_string() const { return connection_string_; }

  // The same without the search_path (the database's default schema).
  const std::string& base_connection_string() const { return base_connection_string_; }

 private:
  std::string schema_;
  std::string base_connection_string_;
  std::string connection_string_;
};

// Points libpq connections opened in this process afterwards at `schema` through PGOPTIONS
// (for code that connects by itself from config::Postgres, e.g. store::PgWriter); the previous
// value is restored on destruction.
class PgSearchPath {
 public:
  explicit PgSearchPath(const std::string& schema);
  ~PgSearchPath();
  PgSearchPath(const PgSearchPath&) = delete;
  PgSearchPath& operator=(const PgSearchPath&) = delete;

 private:
  std::optional<std::string> previous_;
};

using RedisContext = std::unique_ptr<redisContext, decltype(&redisFree)>;
using RedisReply = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

// A blocking hiredis connection, independent of the Asio adapter under test. Null with `error`
// set when the server cannot be reached.
RedisContext redis_connect(const std::string& host, std::uint16_t port, std::string& error);
// One command; null when the connection failed.
RedisReply redis_command(redisContext& context, const std::vector<std::string>& args);

// A key prefix `test:<random hex>:` of its own on the test Redis (TANDEM_TEST_REDIS_HOST,
// _PORT; database 0). Every key starting with it is deleted (SCAN + DEL) on destruction.
class RedisFixture {
 public:
  RedisFixture();
  ~RedisFixture();
  RedisFixture(const RedisFixture&) = delete;
  RedisFixture& operator=(const RedisFixture&) = delete;

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }
  const std::string& prefix() const { return prefix_; }
  std::string key(const std::string& name) const { return prefix_ + name; }

 private:
  std::string host_;
  std::uint16_t port_ = 0;
  std::string prefix_;
};

}  // namespace tandem::testing
