#include "tests/integration/fixtures.hpp"

#include <catch2/catch.hpp>
#include <hiredis/hiredis.h>
#include <pqxx/pqxx>

#include <stdlib.h>  // mkdtemp

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

namespace tandem::testing {

namespace {

constexpr const char* kServicesHint =
    "start the test services first: `bash scripts/services start && source /tmp/tandem-services/env` "
    "(scripts/test does both)";
constexpr int kConnectTimeoutSeconds = 5;
constexpr int kCommandTimeoutSeconds = 10;

std::string require_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') FAIL(name << " is not set: " << kServicesHint);
  return value != nullptr ? value : "";
}

std::uint16_t require_port(const char* name) {
  const std::string text = require_env(name);
  char* end = nullptr;
  const long port = std::strtol(text.c_str(), &end, 10);
  if (*end != '\0' || port < 1 || port > 65535) FAIL(name << "=" << text << " is not a port number");
  return static_cast<std::uint16_t>(port);
}

// A libpq connection-string value, quoted.
std::string conninfo_value(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

RedisContext redis_connect(const std::string& host, std::uint16_t port, std::string& error) {
  const timeval connect_timeout{kConnectTimeoutSeconds, 0};
  RedisContext context(redisConnectWithTimeout(host.c_str(), port, connect_timeout), &redisFree);
  if (!context) {
    error = "cannot allocate a hiredis context";
    return {nullptr, &redisFree};
  }
  if (context->err != 0) {
    error = context->errstr;
    return {nullptr, &redisFree};
  }
  const timeval command_timeout{kCommandTimeoutSeconds, 0};
  redisSetTimeout(context.get(), command_timeout);
  return context;
}

RedisReply redis_command(redisContext& context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return RedisReply(
      static_cast<redisReply*>(redisCommandArgv(&context, static_cast<int>(args.size()), argv.data(), lengths.data())),
      &freeReplyObject);
}

std::string unique_name(const std::string& prefix) {
  static std::mt19937_64 generator{(static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()};
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(generator()));
  return prefix + hex;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "tandem-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) FAIL("mkdtemp(" << pattern << ") failed: " << std::strerror(errno));
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) std::cerr << "warning: could not remove " << path_ << ": " << ec.message() << '\n';
}

PgFixture::PgFixture() {
  const std::string host = require_env("TANDEM_TEST_PG_HOST");
  const std::uint16_t port = require_port("TANDEM_TEST_PG_PORT");
  base_connection_string_ = "host=" + conninfo_value(host) + " port=" + std::to_string(port) +
                            " user=" + conninfo_value(require_env("TANDEM_TEST_PG_USER")) +
                            " password=" + conninfo_value(require_env("TANDEM_TEST_PG_PASSWORD")) +
                            " dbname=" + conninfo_value(require_env("TANDEM_TEST_PG_DB")) +
                            " connect_timeout=" + std::to_string(kConnectTimeoutSeconds);
  schema_ = unique_name("t_");
  connection_string_ = base_connection_string_ + " options=" + conninfo_value("-csearch_path=" + schema_);
  try {
    pqxx::connection connection{base_connection_string_};
    pqxx::work transaction{connection};
    transaction.exec0("CREATE SCHEMA " + transaction.quote_name(schema_));
    transaction.commit();
  } catch (const std::exception& e) {
    FAIL("PostgreSQL at " << host << ":" << port << " is not usable (" << e.what() << "); " << kServicesHint);
  }
}

PgSearchPath::PgSearchPath(const std::string& schema) {
  if (const char* previous = std::getenv("PGOPTIONS")) previous_ = previous;
  ::setenv("PGOPTIONS", ("-c search_path=" + schema).c_str(), 1);
}

PgSearchPath::~PgSearchPath() {
  if (previous_) {
    ::setenv("PGOPTIONS", previous_->c_str(), 1);
  } else {
    ::unsetenv("PGOPTIONS");
  }
}

PgFixture::~PgFixture() {
  try {
    pqxx::connection connection{base_connection_string_};
    pqxx::work transaction{connection};
    transaction.exec0("SET LOCAL lock_timeout = '10s'");  // a test that leaked a lock must not hang us
    transaction.exec0("DROP SCHEMA IF EXISTS " + transaction.quote_name(schema_) + " CASCADE");
    transaction.commit();
  } catch (const std::exception& e) {
    std::cerr << "warning: could not drop schema " << schema_ << ": " << e.what() << '\n';
  }
}

RedisFixture::RedisFixture()
    : host_(require_env("TANDEM_TEST_REDIS_HOST")),
      port_(require_port("TANDEM_TEST_REDIS_PORT")),
      prefix_(unique_name("test:") + ":") {
  std::string error;
  RedisContext context = redis_connect(host_, port_, error);
  if (!context) FAIL("Redis at " << host_ << ":" << port_ << " is not reachable (" << error << "); " << kServicesHint);
  RedisReply pong = redis_command(*context, {"PING"});
  if (!pong || pong->type != REDIS_REPLY_STATUS) {
    FAIL("Redis at " << host_ << ":" << port_ << " does not answer PING (" << context->errstr << "); " << kServicesHint);
  }
}

RedisFixture::~RedisFixture() {
  std::string error;
  RedisContext context = redis_connect(host_, port_, error);
  if (!context) {
    std::cerr << "warning: could not delete keys " << prefix_ << "*: " << error << '\n';
    return;
  }
  std::string cursor = "0";
  do {
    RedisReply page = redis_command(*context, {"SCAN", cursor, "MATCH", prefix_ + "*", "COUNT", "1000"});
    if (!page || page->type != REDIS_REPLY_ARRAY || page->elements != 2) {
      std::cerr << "warning: SCAN failed while deleting keys " << prefix_ << "*: " << context->errstr << '\n';
      return;
    }
    cursor.assign(page->element[0]->str, page->element[0]->len);
    const redisReply& keys = *page->element[1];
    if (keys.elements > 0) {
      std::vector<std::string> del{"DEL"};
      for (std::size_t i = 0; i < keys.elements; ++i) del.emplace_back(keys.element[i]->str, keys.element[i]->len);
      redis_command(*context, del);
    }
  } while (cursor != "0");
}

}  // namespace tandem::testing
