#include <catch2/catch.hpp>

#include "core/config/config.hpp"
#include "tests/unit/config/helpers.hpp"

using namespace std::chrono_literals;
using namespace tandem::config;
using namespace tandem::config::test;

TEST_CASE("the redacted TOML of the defaults loads back to the defaults", "[config]") {
  const std::string toml = to_redacted_toml(Config{});
  CHECK(toml.find("[redis]") == std::string::npos);
  const TempFile file(toml);
  CHECK(load(sources(&file)) == Config{});
}

TEST_CASE("the redacted TOML round-trips every value except passwords", "[config]") {
  Config c;
  c.server.node_id = "node \"7\"\n";
  c.server.drain_timeout = 1500ms;
  c.http.trusted_proxies = {"10.0.0.1", "::1"};
  c.rooms.allowed_url_prefixes = {};
  c.security.strict_identity = true;
  c.redis.emplace();
  c.redis->password = "pw";
  c.postgres.emplace();
  c.postgres->pool_size = 9;

  const TempFile file(to_redacted_toml(c));
  Config loaded = load(sources(&file));
  CHECK(loaded.redis->password == "***");
  CHECK(loaded.postgres->password == "***");
  loaded.redis->password = "pw";
  loaded.postgres->password = "";
  CHECK(loaded == c);
}

TEST_CASE("the redacted TOML writes durations in operator form", "[config]") {
  const std::string toml = to_redacted_toml(Config{});
  CHECK(toml.find("drain_timeout = \"25s\"\n") != std::string::npos);
  CHECK(toml.find("empty_ttl = \"10m\"\n") != std::string::npos);
  CHECK(toml.find("port = 4001\n") != std::string::npos);
}
