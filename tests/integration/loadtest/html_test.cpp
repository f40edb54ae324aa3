// `--html`: the report as a person sees it. A real run writes the page; headless Chromium
// (Debian `chromium`, installed by scripts/deps) renders it to a screenshot, and the plots must
// show up in the picture in their colours, not only exist in the file.
#include <catch2/catch.hpp>

#include <png.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "core/loadtest/html_report.hpp"
#include "process.hpp"

using namespace std::chrono_literals;
using tandem::test::EchoTarget;
using tandem::test::run_loadtest;
using tandem::test::TempDir;

namespace {

// Chromium's binary: $CHROMIUM, else `chromium` or `chromium-browser` on the PATH.
std::string find_chromium() {
  if (const char* env = std::getenv("CHROMIUM"); env && *env) return env;
  std::stringstream path(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin");
  std::string dir;
  while (std::getline(path, dir, ':')) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      const std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "";
}

struct Picture {
  unsigned width = 0;
  unsigned height = 0;
  std::vector<unsigned char> rgb;
  // Pixels of exactly the colour "#rrggbb".
  std::size_t count(const char* hex) const {
    const unsigned long v = std::strtoul(hex + 1, nullptr, 16);
    const unsigned char r = (v >> 16) & 0xff, g = (v >> 8) & 0xff, b = v & 0xff;
    std::size_t n = 0;
    for (std::size_t i = 0; i + 2 < rgb.size(); i += 3) n += rgb[i] == r && rgb[i + 1] == g && rgb[i + 2] == b;
    return n;
  }
};

Picture read_png(const std::filesystem::path& file) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&image, file.c_str()) != 0);
  image.format = PNG_FORMAT_RGB;
  Picture p;
  p.width = image.width;
  p.height = image.height;
  p.rgb.resize(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, p.rgb.data(), 0, nullptr) != 0);
  return p;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("the HTML report renders its plots in a browser", "[loadtest]") {
  const std::string chromium = find_chromium();
  INFO("headless Chromium is needed (Debian package chromium, scripts/deps installs it; or set CHROMIUM)");
  REQUIRE_FALSE(chromium.empty());

  EchoTarget echo;
  TempDir dir;
  const auto html_file = dir.path() / "report.html";
  const auto run = run_loadtest({"--url", echo.url(), "--stage", "1s:40", "--stage", "3s:40", "--stage", "1s:0",
                                 "--room-size", "4", "--drain", "1s", "--heartbeat-interval", "200ms",
                                 "--status-interval", "500ms", "--quiet", "--html", html_file.string(),
                                 "--threshold", "lost==0"},
                                dir.path(), 40s);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);

  const std::string html = tandem::test::read_file(html_file);
  CHECK(occurrences(html, "<svg class=\"plot\"") == 6);
  CHECK(occurrences(html, "class=\"stage\"") == 6 * 3);  // three stage ends in every plot
  CHECK(html.find("result: PASSED") != std::string::npos);
  CHECK(html.find("lost==0") != std::string::npos);
  // Self-contained: nothing is fetched.
  for (const char* outside : {"http://", "https://", "<script", "src=", "url(", "<link"}) {
    INFO(outside);
    CHECK(html.find(outside) == std::string::npos);
  }

  const auto shot = dir.path() / "report.png";
  tandem::test::Process browser({chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--hide-scrollbars", "--force-color-profile=srgb",
                                 "--user-data-dir=" + (dir.path() / "chromium").string(), "--window-size=1280,2200",
                                 "--screenshot=" + shot.string(), "file://" + html_file.string()},
                                dir.path(), "chromium");
  const auto code = browser.wait(60s);
  INFO(browser.err());
  REQUIRE(code);
  REQUIRE(std::filesystem::exists(shot));
  const Picture picture = read_png(shot);
  CHECK(picture.width == 1280);
  // Every plot's line is in the picture: far more pixels of its colour than its legend swatch
  // (14 × 4) has.
  using namespace tandem::loadtest::plot_colour;
  for (const char* colour : {kBroadcastP99, kStatusP99, kConnected, kFramesOut, kSendLag, kCpu}) {
    INFO("colour " << colour << ": " << picture.count(colour) << " pixels");
    CHECK(picture.count(colour) > 200);
  }
}
