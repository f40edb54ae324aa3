#include <catch2/catch.hpp>

#include "core/config/config.hpp"
#include "core/util/duration.hpp"
#include "tests/unit/config/helpers.hpp"

using namespace tandem::config;
using namespace tandem::config::test;
using Catch::Matchers::StartsWith;

namespace {

// The message for `toml`, with the temporary file's name replaced by "FILE".
std::string file_message(std::string_view toml) {
  const TempFile file(toml);
  std::string message = load_error(sources(&file));
  const std::string name = file.name();
  for (auto at = message.find(name); at != std::string::npos; at = message.find(name)) {
    message.replace(at, name.size(), "FILE");
  }
  return message;
}

std::string env_message(Env env) { return load_error(sources(nullptr, std::move(env))); }
std::string flag_message(Overrides flags) { return load_error(sources(nullptr, {}, std::move(flags))); }

}  // namespace

TEST_CASE("an unknown key in the file names file, line and key", "[config]") {
  CHECK(file_message("[server]\nport = 1\nprot = 2\n") ==
        "FILE:3: server.prot: unknown key; did you mean server.port?");
  CHECK(file_message("[limits]\n\nflux_capacitor = 1\n") == "FILE:3: limits.flux_capacitor: unknown key");
}

TEST_CASE("an unknown section in the file is refused", "[config]") {
  CHECK(file_message("\n[servre]\nport = 1\n") == "FILE:2: servre: unknown section; did you mean [server]?");
  CHECK(file_message("port = 1\n") == "FILE:1: port: unknown key; did you mean server.port (under [server])?");
  CHECK(file_message("server = 1\n") == "FILE:1: server: expected a table [server] (got integer)");
}

TEST_CASE("errors of a file are reported in file order", "[config]") {
  CHECK(file_message("[server]\nzzz = 1\naaa = 2\n") == "FILE:2: server.zzz: unknown key\nFILE:3: server.aaa: unknown key");
}

TEST_CASE("a wrong type in the file names what was expected and what was found", "[config]") {
  CHECK(file_message("[rooms]\nhost_grace = 15\n") ==
        "FILE:2: rooms.host_grace: expected a duration such as 15s (got integer)");
  CHECK(file_message("[server]\nport = \"4001\"\n") ==
        "FILE:2: server.port: expected an integer 1-65535 (got string)");
  CHECK(file_message("[server]\nthreads = 1.5\n") == "FILE:2: server.threads: expected an integer 0-64 (got float)");
  CHECK(file_message("[security]\nstrict_identity = \"yes\"\n") ==
        "FILE:2: security.strict_identity: expected true or false (got string)");
  CHECK(file_message("[http]\ntrusted_proxies = \"10.0.0.1\"\n") ==
        "FILE:2: http.trusted_proxies: expected an array of strings (got string)");
  CHECK(file_message("[http]\ntrusted_proxies = [\"10.0.0.1\", 7]\n") ==
        "FILE:2: http.trusted_proxies: expected an array of strings (got integer in the array)");
  CHECK(file_message("[log]\nlevel = 3\n") ==
        "FILE:2: log.level: expected one of trace, debug, info, warn, error, off (got integer)");
}

TEST_CASE("an unparsable duration lists the accepted forms", "[config]") {
  CHECK(file_message("[rooms]\nempty_ttl = \"10 minutes\"\n") ==
        "FILE:2: rooms.empty_ttl: expected a duration, " + std::string(tandem::util::kDurationForms) +
            " (got \"10 minutes\")");
}

TEST_CASE("out-of-range values in the file are refused with the range", "[config]") {
  CHECK(file_message("[server]\nport = 70000\n") == "FILE:2: server.port: expected an integer 1-65535 (got 70000)");
  CHECK(file_message("[server]\ndrain_timeout = \"20m\"\n") ==
        "FILE:2: server.drain_timeout: expected a duration 1s-10m (got 20m)");
  CHECK(file_message("[limits]\nmsgs_burst = 0\n") ==
        "FILE:2: limits.msgs_burst: expected an integer 1-1000000 (got 0)");
  CHECK(file_message("[http]\nstatus_detail = \"everything\"\n") ==
        "FILE:2: http.status_detail: expected one of caller, full, off (got \"everything\")");
  CHECK(file_message("[log]\nformat = \"xml\"\n") ==
        "FILE:2: log.format: expected one of auto, text, json (got \"xml\")");
  CHECK(file_message("[server]\ndata_dir = \"\"\n") ==
        "FILE:2: server.data_dir: expected a non-empty string (got \"\")");
}

TEST_CASE("key-specific rules are checked", "[config]") {
  CHECK(file_message("[http]\nredirect_template = \"https://x.example/\"\n") ==
        "FILE:2: http.redirect_template: must contain {roomId} (got \"https://x.example/\")");
  CHECK(file_message("[http]\npublic_base_url = \"ftp://x\"\n") ==
        "FILE:2: http.public_base_url: must start with http:// or https:// (got \"ftp://x\")");
  CHECK(file_message("[http]\ntrusted_proxies = [\"10.0.0.1\", \"proxy.local\"]\n") ==
        "FILE:2: http.trusted_proxies: each entry must be an IPv4 or IPv6 address or CIDR range (e.g. 10.0.0.0/8) (got \"proxy.local\")");
  CHECK(file_message("[rooms]\nallowed_url_prefixes = [\"www.netflix.com\"]\n") ==
        "FILE:2: rooms.allowed_url_prefixes: each entry must start with http:// or https:// (got \"www.netflix.com\")");
}

TEST_CASE("a TOML syntax error gives file, line and column", "[config]") {
  CHECK_THAT(file_message("[server]\nport = = 1\n"), StartsWith("FILE:2:"));
  const std::string message = file_message("[server]\nhost = \"unterminated\n");
  CHECK_THAT(message, StartsWith("FILE:2:"));
  CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("bad environment values name the variable", "[config]") {
  CHECK(env_message({{"TANDEM_SERVER_PORT", "abc"}}) ==
        "env TANDEM_SERVER_PORT: expected an integer 1-65535 (got \"abc\")");
  CHECK(env_message({{"PORT", "0"}}) == "env PORT: expected an integer 1-65535 (got 0)");
  CHECK(env_message({{"TANDEM_LIMITS_IDLE_TIMEOUT", "60"}}) ==
        "env TANDEM_LIMITS_IDLE_TIMEOUT: expected a duration, " + std::string(tandem::util::kDurationForms) +
            " (got \"60\")");
  CHECK(env_message({{"TANDEM_SECURITY_STRICT_IDENTITY", "maybe"}}) ==
        "env TANDEM_SECURITY_STRICT_IDENTITY: expected true or false (got \"maybe\")");
  CHECK(env_message({{"TANDEM_HTTP_TRUSTED_PROXIES", "10.0.0.1,nope"}}) ==
        "env TANDEM_HTTP_TRUSTED_PROXIES: each entry must be an IPv4 or IPv6 address or CIDR range (e.g. 10.0.0.0/8) (got \"nope\")");
}

TEST_CASE("an unknown TANDEM_ variable of a known section is refused", "[config]") {
  CHECK(env_message({{"TANDEM_SERVER_PROT", "1"}}) ==
        "env TANDEM_SERVER_PROT: unknown key; did you mean TANDEM_SERVER_PORT?");
}

TEST_CASE("bad flags name the key", "[config]") {
  CHECK(flag_message({{"server.port", "99999"}}) == "flag server.port: expected an integer 1-65535 (got 99999)");
  CHECK(flag_message({{"limits.max_room_member", "5"}}) ==
        "flag limits.max_room_member: unknown key; did you mean limits.max_room_members?");
  CHECK_THAT(flag_message({{"nonsense", "5"}}), StartsWith("flag nonsense: unknown key"));
}

TEST_CASE("conflicting keys are both named with their origins", "[config]") {
  CHECK(file_message("[limits]\nping_interval = \"60s\"\n") ==
        "FILE:2: limits.ping_interval: limits.ping_interval (1m, FILE:2) must be less than "
        "limits.idle_timeout (1m, default)");

  const TempFile file("[limits]\nping_interval = \"30s\"\n");
  std::string message = load_error(sources(&file, {{"TANDEM_LIMITS_IDLE_TIMEOUT", "20s"}}));
  CHECK(message == "env TANDEM_LIMITS_IDLE_TIMEOUT: limits.ping_interval (30s, " + file.name() +
                       ":2) must be less than limits.idle_timeout (20s, env TANDEM_LIMITS_IDLE_TIMEOUT)");

  CHECK(flag_message({{"audit.batch_size", "500"}, {"audit.queue_capacity", "100"}}) ==
        "flag audit.batch_size: audit.batch_size (500, flag) must be at most audit.queue_capacity (100, flag)");

  CHECK(file_message("[server]\ninternal_port = 4001\n") ==
        "FILE:2: server.internal_port: server.internal_port (4001, FILE:2) must be 0 or different from "
        "server.port (4001, default)");
  CHECK(flag_message({{"server.internal_port", "70000"}}) ==
        "flag server.internal_port: expected an integer 0-65535 (got 70000)");
}

TEST_CASE("quoted values in messages are escaped and shortened", "[config]") {
  const std::string message = env_message({{"TANDEM_LOG_LEVEL", "x\n\"y\"\x01" + std::string(300, 'z')}});
  CHECK_THAT(message, StartsWith("env TANDEM_LOG_LEVEL: expected one of trace, debug, info, warn, error, off "
                                 "(got \"x\\n\\\"y\\\"\\x01zzz"));
  CHECK(message.size() < 250);
  CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("every error of a file is reported at once, one line each, in file order", "[config]") {
  CHECK(file_message("[server]\nport = 70000\nthreads = \"x\"\n\n[nonsense]\na = 1\n\n[limits]\nmax_room_member = 3\n") ==
        "FILE:2: server.port: expected an integer 1-65535 (got 70000)\n"
        "FILE:3: server.threads: expected an integer 0-64 (got string)\n"
        "FILE:5: nonsense: unknown section\n"
        "FILE:9: limits.max_room_member: unknown key; did you mean limits.max_room_members?");
}
