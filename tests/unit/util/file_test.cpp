#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "core/util/file.hpp"

namespace fs = std::filesystem;

TEST_CASE("read_file: the whole content, byte for byte, or nothing for a file that cannot be opened", "[util][file]") {
  const fs::path dir = fs::temp_directory_path() / ("tandem-read-file-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string content("max 50000 100000\n\0second line without a newline", 47);
  {
    std::ofstream out(dir / "cpu.max", std::ios::binary);
    out << content;
  }
  { std::ofstream empty(dir / "empty"); }

  CHECK(tandem::util::read_file(dir / "cpu.max") == content);
  CHECK(tandem::util::read_file(dir / "empty") == std::string());
  CHECK_FALSE(tandem::util::read_file(dir / "missing").has_value());
  fs::remove_all(dir);
}
