#include <catch2/catch.hpp>

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "core/log/log.hpp"

using tandem::log::Options;

TEST_CASE("setup installs the tandem logger as default with the requested level", "[log]") {
  tandem::log::setup(Options{"warn", "json", false});
  REQUIRE(spdlog::default_logger());
  CHECK(spdlog::default_logger()->name() == "tandem");
  CHECK(spdlog::default_logger()->level() == spdlog::level::warn);

  tandem::log::setup(Options{"debug", "text", false});
  CHECK(spdlog::default_logger()->level() == spdlog::level::debug);
  tandem::log::setup(Options{"off", "auto", true});
  CHECK(spdlog::default_logger()->level() == spdlog::level::off);
}

TEST_CASE("setup refuses unknown levels and formats", "[log]") {
  CHECK_THROWS_AS(tandem::log::setup(Options{"loud", "json", false}), std::invalid_argument);
  CHECK_THROWS_AS(tandem::log::setup(Options{"info", "xml", false}), std::invalid_argument);
}
