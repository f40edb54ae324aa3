#include <catch2/catch.hpp>

#include <cstdlib>

#include "core/config/config.hpp"
#include "tests/unit/config/helpers.hpp"

using namespace std::chrono_literals;
using namespace tandem::config;
using namespace tandem::config::test;

TEST_CASE("no sources yield the built-in defaults", "[config]") {
  CHECK(load(Sources{}) == Config{});
}

TEST_CASE("a missing default file is skipped but a missing explicit file is an error", "[config]") {
  Sources s;
  s.file = "/nonexistent/tandem.toml";
  s.file_required = false;
  CHECK(load(s) == Config{});
  s.file_required = true;
  CHECK(load_error(s) == "/nonexistent/tandem.toml: cannot read: No such file or directory");
}

TEST_CASE("file values apply to every kind of key", "[config]") {
  const TempFile file(R"(
[server]
host = "127.0.0.1"
port = 5001
threads = 4
drain_timeout = "1m30s"

[http]
trusted_proxies = ["10.0.0.1", "::1"]

[security]
strict_identity = true
)");
  const Config c = load(sources(&file));
  CHECK(c.server.host == "127.0.0.1");
  CHECK(c.server.port == 5001);
  CHECK(c.server.threads == 4);
  CHECK(c.server.drain_timeout == 90s);
  CHECK(c.http.trusted_proxies == std::vector<std::string>{"10.0.0.1", "::1"});
  CHECK(c.security.strict_identity);
  CHECK(c.limits == Limits{});
}

TEST_CASE("environment overrides the file and flags override the environment", "[config]") {
  const TempFile file("[server]\nport = 5001\nhost = \"10.1.1.1\"\n[limits]\nmax_room_members = 10\n");
  const Env env{{"TANDEM_SERVER_PORT", "5002"}, {"TANDEM_LIMITS_MAX_ROOM_MEMBERS", "20"}};
  const Overrides flags{{"limits.max_room_members", "30"}};

  const Config c = load(sources(&file, env, flags));
  CHECK(c.server.host == "10.1.1.1");    // file only
  CHECK(c.server.port == 5002);          // env beats file
  CHECK(c.limits.max_room_members == 30);  // flag beats env
}

TEST_CASE("the last of repeated flags wins", "[config]") {
  const Config c = load(sources(nullptr, {}, {{"server.port", "5001"}, {"server.port", "5002"}}));
  CHECK(c.server.port == 5002);
}

TEST_CASE("v2.0 environment names still configure their keys", "[config]") {
  const Env env{{"PORT", "8080"},
                {"HOST", "127.0.0.1"},
                {"NODE_ID", "node-7"},
                {"LOG_LEVEL", "debug"},
                {"REDIS_HOST", "redis.internal"},
                {"REDIS_PORT", "6380"},
                {"REDIS_PASSWORD", "s3cret"},
                {"REDIS_DB", "2"},
                {"POSTGRES_HOST", "pg.internal"},
                {"POSTGRES_PORT", "5433"},
                {"POSTGRES_DB", "tandem_prod"},
                {"POSTGRES_USER", "svc"},
                {"POSTGRES_PASSWORD", "pg-secret"},
                {"POSTGRES_POOL_SIZE", "8"}};
  const Config c = load(sources(nullptr, env));
  CHECK(c.server.port == 8080);
  CHECK(c.server.host == "127.0.0.1");
  CHECK(c.server.node_id == "node-7");
  CHECK(c.log.level == "debug");
  REQUIRE(c.redis);
  CHECK(c.redis->host == "redis.internal");
  CHECK(c.redis->port == 6380);
  CHECK(c.redis->password == "s3cret");
  CHECK(c.redis->db == 2);
  REQUIRE(c.postgres);
  CHECK(c.postgres->host == "pg.internal");
  CHECK(c.postgres->port == 5433);
  CHECK(c.postgres->database == "tandem_prod");
  CHECK(c.postgres->user == "svc");
  CHECK(c.postgres->password == "pg-secret");
  CHECK(c.postgres->pool_size == 8);
}

TEST_CASE("TANDEM_ names win over v2.0 names", "[config]") {
  const Env env{{"PORT", "not-even-a-number"}, {"TANDEM_SERVER_PORT", "4100"},
                {"REDIS_HOST", "old"}, {"TANDEM_REDIS_HOST", "new"}};
  const Config c = load(sources(nullptr, env));
  CHECK(c.server.port == 4100);
  REQUIRE(c.redis);
  CHECK(c.redis->host == "new");
}

TEST_CASE("empty v2.0 variables count as unset", "[config]") {
  const Config c = load(sources(nullptr, {{"PORT", ""}, {"REDIS_PASSWORD", ""}}));
  CHECK(c == Config{});
}

TEST_CASE("environment variables of other shapes are ignored", "[config]") {
  const Env env{{"TANDEM_BINARY", "/usr/bin/tandem"}, {"TANDEM_E2E_SEED", "1"}, {"PATH", "/bin"}};
  CHECK(load(sources(nullptr, env)) == Config{});
}

TEST_CASE("lists from the environment and flags are comma-separated", "[config]") {
  const Env env{{"TANDEM_ROOMS_ALLOWED_URL_PREFIXES", "https://a.example/, https://b.example/,,"},
                {"TANDEM_HTTP_TRUSTED_PROXIES", " 10.0.0.1 ,fd00::1"}};
  Config c = load(sources(nullptr, env));
  CHECK(c.rooms.allowed_url_prefixes ==
        std::vector<std::string>{"https://a.example/", "https://b.example/"});
  CHECK(c.http.trusted_proxies == std::vector<std::string>{"10.0.0.1", "fd00::1"});

  c = load(sources(nullptr, env, {{"http.trusted_proxies", ""}}));
  CHECK(c.http.trusted_proxies.empty());
}

TEST_CASE("booleans accept the usual spellings", "[config]") {
  for (const char* yes : {"true", "TRUE", "1", "yes", "on"}) {
    CHECK(load(sources(nullptr, {{"TANDEM_SECURITY_STRICT_IDENTITY", yes}})).security.strict_identity);
  }
  for (const char* no : {"false", "0", "No", "off"}) {
    CHECK_FALSE(load(sources(nullptr, {}, {{"security.strict_identity", no}})).security.strict_identity);
  }
}

TEST_CASE("durations from text use the util::parse_duration forms", "[config]") {
  const Config c = load(sources(nullptr, {{"TANDEM_ROOMS_HOST_GRACE", "500ms"}},
                                {{"rooms.short_id_ttl", "1h30m"}}));
  CHECK(c.rooms.host_grace == 500ms);
  CHECK(c.rooms.short_id_ttl == 90min);
}

TEST_CASE("redis and postgres stay empty unless a source mentions them", "[config]") {
  CHECK_FALSE(load(Sources{}).redis);

  const TempFile file("[redis]\n");
  CHECK(load(sources(&file)).redis == Redis{});
  CHECK_FALSE(load(sources(&file)).postgres);

  CHECK(load(sources(nullptr, {{"TANDEM_POSTGRES_POOL_SIZE", "4"}})).postgres == Postgres{});
  CHECK(load(sources(nullptr, {{"REDIS_DB", "0"}})).redis == Redis{});

  const Config c = load(sources(nullptr, {}, {{"postgres.user", "ops"}}));
  REQUIRE(c.postgres);
  CHECK(c.postgres->user == "ops");
  CHECK_FALSE(c.redis);
}

TEST_CASE("process_environment reads the variables of this process", "[config]") {
  REQUIRE(::setenv("TANDEM_TEST_PROCESS_ENV", "a=b", 1) == 0);
  const auto env = process_environment();
  ::unsetenv("TANDEM_TEST_PROCESS_ENV");
  const auto it = env.find("TANDEM_TEST_PROCESS_ENV");
  REQUIRE(it != env.end());
  CHECK(it->second == "a=b");
}

// Found by tests/fuzz/config_fuzz.cpp: a value in invalid UTF-8 from the environment was accepted,
// then --print-config wrote its bytes as other characters and JSON frames carried it unchanged.
TEST_CASE("environment and flag values must be UTF-8 text, as in the file", "[config]") {
  const std::string bad = "node-\xa2\x8d";
  const std::string error = load_error(sources(nullptr, {{"TANDEM_SERVER_NODE_ID", bad}}));
  CHECK(error.starts_with("env TANDEM_SERVER_NODE_ID: expected UTF-8 text (got \"node-"));
  CHECK_THAT(load_error(sources(nullptr, {{"REDIS_HOST", bad}})), Catch::StartsWith("env REDIS_HOST: expected UTF-8"));
  CHECK_THAT(load_error(sources(nullptr, {}, {{"http.trusted_proxies", "10.0.0.1," + bad}})),
             Catch::StartsWith("flag http.trusted_proxies: each entry expected UTF-8 text"));
  // A secret's bytes are not shown, whatever they are.
  CHECK(load_error(sources(nullptr, {{"TANDEM_REDIS_PASSWORD", bad}})) ==
        "env TANDEM_REDIS_PASSWORD: expected UTF-8 text (value hidden)");
  CHECK(load(sources(nullptr, {{"TANDEM_SERVER_NODE_ID", "nœud-α"}})).server.node_id == "nœud-α");
}
