#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/metrics/metrics.hpp"

using tandem::metrics::Registry;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

// The value on the line of `series` (e.g. `name{a="b"}`), or -1 when there is no such line.
double value_of(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("counters, gauges and histograms render in the text format with HELP and TYPE", "[metrics]") {
  Registry registry;
  auto& frames = registry.counter("test_frames_total", "Frames");
  auto& open = registry.gauge("test_open", "Open things");
  auto& latency = registry.histogram("test_latency_seconds", "Latency", {0.01, 0.1});
  frames.inc();
  frames.inc(4);
  open.set(7);
  open.add(-2);
  latency.observe(0.005);
  latency.observe(0.05);
  latency.observe(3);

  CHECK(frames.value() == 5);
  CHECK(open.value() == 5);
  CHECK(latency.count() == 3);
  const std::string text = registry.render();
  CHECK(has_line(text, "# HELP test_frames_total Frames"));
  CHECK(has_line(text, "# TYPE test_frames_total counter"));
  CHECK(has_line(text, "test_frames_total 5"));
  CHECK(has_line(text, "# TYPE test_open gauge"));
  CHECK(has_line(text, "test_open 5"));
  CHECK(has_line(text, "# TYPE test_latency_seconds histogram"));
  CHECK(has_line(text, "test_latency_seconds_bucket{le=\"0.01\"} 1"));
  CHECK(has_line(text, "test_latency_seconds_bucket{le=\"0.1\"} 2"));
  CHECK(has_line(text, "test_latency_seconds_bucket{le=\"+Inf\"} 3"));
  CHECK(has_line(text, "test_latency_seconds_count 3"));
  CHECK(value_of(text, "test_latency_seconds_sum") == Approx(3.055));
}

TEST_CASE("a counter family with two labels counts each label set on its own", "[metrics]") {
  Registry registry;
  auto& requests = registry.counter_family("test_requests_total", "Requests", {"handler", "code"});
  requests.with({"status", "200"}).inc();
  requests.with({"status", "200"}).inc();
  requests.with({"status", "503"}).inc();
  requests.with({"ready", "200"}).inc(3);

  const std::string text = registry.render();
  CHECK(value_of(text, "test_requests_total{code=\"200\",handler=\"status\"}") == 2);
  CHECK(value_of(text, "test_requests_total{code=\"503\",handler=\"status\"}") == 1);
  CHECK(value_of(text, "test_requests_total{code=\"200\",handler=\"ready\"}") == 3);
  CHECK(requests.snapshot() == std::map<std::string, std::uint64_t>{{"ready,200", 3}, {"status,200", 2},
                                                                    {"status,503", 1}});
}

TEST_CASE("a counter family holds at most max_series label sets, the rest count as \"other\"", "[metrics]") {
  Registry registry;
  auto& types = registry.counter_family("test_types_total", "Types", {"type"}, 3);
  types.with("a").inc();
  types.with("b").inc();
  types.with("c").inc();
  // A client inventing types cannot grow the registry: every new value lands on "other".
  for (int i = 0; i < 100; ++i) types.with("invented-" + std::to_string(i)).inc();
  types.with("a").inc();

  const auto counts = types.snapshot();
  CHECK(counts.size() == 4);
  CHECK(counts.at("a") == 2);
  CHECK(counts.at("other") == 100);
  CHECK(value_of(registry.render(), "test_types_total{type=\"other\"}") == 100);
}

TEST_CASE("label values are escaped", "[metrics]") {
  Registry registry;
  registry.counter_family("test_escaped_total", "Escaping", {"v"}).with("a\"b\\c\nd").inc();
  CHECK(registry.render().find("test_escaped_total{v=\"a\\\"b\\\\c\\nd\"} 1") != std::string::npos);
}

TEST_CASE("gauge_fn and counter_fn are read at every scrape, info renders 1 with its labels", "[metrics]") {
  Registry registry;
  double rooms = 3;
  double cpu = 1.5;
  registry.gauge_fn("test_rooms", "Rooms", [&rooms] { return rooms; });
  registry.counter_fn("test_cpu_seconds_total", "CPU", [&cpu] { return cpu; });
  registry.info("test_build_info", "Build", {{"version", "1.2.3"}, {"mode", "embedded"}});

  std::string text = registry.render();
  CHECK(value_of(text, "test_rooms") == 3);
  CHECK(has_line(text, "# TYPE test_cpu_seconds_total counter"));
  CHECK(value_of(text, "test_cpu_seconds_total") == 1.5);
  CHECK(value_of(text, "test_build_info{mode=\"embedded\",version=\"1.2.3\"}") == 1);
  rooms = 8;
  cpu = 2.25;
  text = registry.render();
  CHECK(value_of(text, "test_rooms") == 8);
  CHECK(value_of(text, "test_cpu_seconds_total") == 2.25);
}

TEST_CASE("process metrics come from /proc and are plausible", "[metrics]") {
  Registry registry;
  tandem::metrics::register_process_metrics(registry);
  const std::string text = registry.render();
  CHECK(value_of(text, "process_open_fds") >= 3);  // at least stdin, stdout, stderr
  CHECK(value_of(text, "process_max_fds") >= value_of(text, "process_open_fds"));
  CHECK(value_of(text, "process_resident_memory_bytes") > 1024 * 1024);
  CHECK(value_of(text, "process_cpu_seconds_total") >= 0);
  CHECK(has_line(text, "# TYPE process_cpu_seconds_total counter"));
  // Started after 2020 and not in the future.
  const double start = value_of(text, "process_start_time_seconds");
  CHECK(start > 1.6e9);
  CHECK(start <= static_cast<double>(std::time(nullptr)) + 1);
}

TEST_CASE("process_open_fds follows descriptors as they open and close", "[metrics]") {
  Registry registry;
  tandem::metrics::register_process_metrics(registry);
  const double before = value_of(registry.render(), "process_open_fds");
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    fds.push_back(fd);
  }
  CHECK(value_of(registry.render(), "process_open_fds") == before + 64);
  for (const int fd : fds) ::close(fd);
  CHECK(value_of(registry.render(), "process_open_fds") == before);
}
