#include <catch2/catch.hpp>

#include "core/config/config.hpp"
#include "core/config/key_table.hpp"
#include "core/config/value.hpp"
#include "tests/unit/config/helpers.hpp"

using namespace tandem::config;
using namespace tandem::config::test;

namespace {

constexpr const char* kPassword = "hunter2-Secret";

bool leaks(const std::string& text) { return text.find("hunter2") != std::string::npos; }

}  // namespace

TEST_CASE("every password key is marked secret", "[config][secret]") {
  for (const auto& key : keys()) {
    if (key.name.find("password") != std::string_view::npos) CHECK(key.secret);
  }
}

TEST_CASE("errors about a secret never echo its value", "[config][secret]") {
  KeySpec secret_number = key<&Config::redis, &Redis::db>("redis", "db", "test key").range(0, 15).hidden();
  const Conversion bad_text = from_text(secret_number, kPassword);
  REQUIRE_FALSE(bad_text.value);
  CHECK(bad_text.reason == "expected an integer 0-15 (value hidden)");
  const auto out_of_range = violation(secret_number, Value(std::int64_t{99}));
  REQUIRE(out_of_range);
  CHECK(*out_of_range == "expected an integer 0-15 (value hidden)");
}

TEST_CASE("a password of the wrong type is reported without its value", "[config][secret]") {
  const std::string message = file_error("[redis]\npassword = 20240601\n");
  CHECK(message.ends_with("redis.password: expected a string (got integer)"));
  CHECK(message.find("20240601") == std::string::npos);
}

TEST_CASE("a TOML syntax error on a password line hides the parser's details", "[config][secret]") {
  for (const char* toml : {"[postgres]\npassword = \"hunter2-Secret\\q\"\n",
                           "[postgres]\npassword = \"hunter2-Secret\n",
                           "[redis]\npassword = hunter2-Secret\n"}) {
    const std::string message = file_error(toml);
    INFO(message);
    CHECK_FALSE(message.empty());
    CHECK_FALSE(leaks(message));
  }
}

TEST_CASE("passwords from every source stay out of unrelated errors", "[config][secret]") {
  const TempFile file(std::string("[redis]\npassword = \"") + kPassword + "\"\n[server]\nport = 0\n");
  const std::string message = load_error(sources(&file, {{"POSTGRES_PASSWORD", kPassword}},
                                                  {{"redis.password", kPassword}}));
  CHECK_FALSE(message.empty());
  CHECK_FALSE(leaks(message));
}

TEST_CASE("the redacted TOML shows stars instead of passwords", "[config][secret]") {
  Config c;
  c.redis.emplace().password = kPassword;
  c.postgres.emplace().password = kPassword;
  const std::string toml = to_redacted_toml(c);
  CHECK_FALSE(leaks(toml));
  CHECK(toml.find("[redis]\n") != std::string::npos);
  CHECK(toml.find("[postgres]\n") != std::string::npos);
  CHECK(toml.find("password = \"***\"") != std::string::npos);
}
