#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "core/config/config.hpp"
#include "core/config/key_table.hpp"
#include "tests/unit/config/helpers.hpp"

using namespace tandem::config;
using namespace tandem::config::test;

namespace {

const std::string kExamplePath = TANDEM_SOURCE_DIR "/tandem.toml.example";

std::string example_text() {
  std::ifstream in(kExamplePath);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The example with its commented-out [redis] and [postgres] sections enabled: inside those
// sections every line loses its leading "# ".
std::string with_optional_sections_enabled(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "# [redis]" || line == "# [postgres]") inside = true;
    else if (line.starts_with("[")) inside = false;
    if (inside && line.starts_with("# ")) line.erase(0, 2);
    out += line + "\n";
  }
  return out;
}

// "section.key" for every key line, commented out or not, with the line before it.
std::map<std::string, std::string> documented_keys(const std::string& text) {
  std::istringstream in(text);
  std::map<std::string, std::string> found;
  std::string section;
  std::string previous;
  for (std::string line; std::getline(in, line); previous = line) {
    std::string_view body = line;
    if (body.starts_with("# ")) body.remove_prefix(2);
    if (body.starts_with("[") && body.ends_with("]")) {
      section = std::string(body.substr(1, body.size() - 2));
    } else if (const auto eq = body.find(" = "); eq != std::string_view::npos && !body.starts_with("#")) {
      found[section + "." + std::string(body.substr(0, eq))] = previous;
    }
  }
  return found;
}

}  // namespace

TEST_CASE("the example file loads to the built-in defaults", "[config][example]") {
  Sources s;
  s.file = kExamplePath;
  s.file_required = true;
  CHECK(load(s) == Config{});
}

TEST_CASE("the example's commented redis and postgres sections hold their defaults", "[config][example]") {
  const std::string enabled = with_optional_sections_enabled(example_text());
  REQUIRE(enabled != example_text());
  const TempFile file(enabled);
  Config expected;
  expected.redis.emplace();
  expected.postgres.emplace();
  CHECK(load(sources(&file)) == expected);
}

TEST_CASE("the example documents every key with a comment line", "[config][example]") {
  const auto documented = documented_keys(example_text());
  for (const auto& key : keys()) {
    const std::string name = dotted_name(key);
    INFO(name);
    const auto it = documented.find(name);
    REQUIRE(it != documented.end());
    CHECK(it->second.find("# ") != std::string::npos);
  }
  CHECK(documented.size() == keys().size());
}
