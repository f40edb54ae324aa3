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
  Config loaded = load(sources(&file));
  CHECK(loaded.security.pin_secret == "***");  // secrets are never written, not even empty ones
  loaded.security.pin_secret.clear();
  CHECK(loaded == Config{});
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
  CHECK(loaded.security.pin_secret == "***");
  loaded.security.pin_secret.clear();
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

TEST_CASE("effective_config names the source of every key and hides secrets", "[config]") {
  const TempFile file("[server]\nport = 4100\n\n[redis]\nhost = \"r\"\npassword = \"hunter2\"\n\n[postgres]\nhost = \"p\"\n");
  const std::string text = effective_config(
      sources(&file, {{"TANDEM_LIMITS_MAX_ROOM_MEMBERS", "12"}}, {{"log.level", "warn"}}));
  CHECK(text.find("port = 4100  # " + file.name() + ":2\n") != std::string::npos);
  CHECK(text.find("max_room_members = 12  # env TANDEM_LIMITS_MAX_ROOM_MEMBERS\n") != std::string::npos);
  CHECK(text.find("level = \"warn\"  # flag\n") != std::string::npos);
  CHECK(text.find("host = \"0.0.0.0\"  # default\n") != std::string::npos);
  CHECK(text.find("password = \"***\"  # " + file.name() + ":6\n") != std::string::npos);
  CHECK(text.find("hunter2") == std::string::npos);
  CHECK(text.find("[redis]\n") != std::string::npos);
}

TEST_CASE("effective_config refuses what load refuses", "[config]") {
  const TempFile file("[server]\nport = 0\n");
  CHECK_THROWS_AS(effective_config(sources(&file)), ConfigError);
}
