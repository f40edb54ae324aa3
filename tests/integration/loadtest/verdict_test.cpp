// How `tandem loadtest` judges a run: its exit codes, the INVALID verdict of an overloaded
// generator, the NOT APPLIED verdict of a target that stops reading, and the per-second series
// of the JSON report.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <thread>

#include <boost/json.hpp>

#include "process.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using tandem::test::counter;
using tandem::test::EchoTarget;
using tandem::test::load_report;
using tandem::test::Node;
using tandem::test::run_loadtest;
using tandem::test::TempDir;
using tandem::test::u;

TEST_CASE("an overloaded generator makes the run INVALID, exit 4, whatever the thresholds say", "[loadtest]") {
  // The generator at nice 19: a starved generator only falls further behind, and the overload
  // slows the tests beside it (ctest -j) little. The echo target keeps the normal priority: on a
  // busy machine a niced target was the one that fell behind, and its push-back made the run NOT
  // APPLIED (exit 5) instead of INVALID.
  EchoTarget echo;
  TempDir dir;
  const auto report_file = dir.path() / "report.json";
  // 3,000 clients sending POSITION_UPDATE every 5 ms (600,000 frames/s offered) from one worker:
  // several times what one worker sends (about 130,000 frames/s on this 2-core machine, measured
  // 2026-12-03), so the generator falls behind on any machine, sanitizers or not.
  const auto run = run_loadtest({"--url", echo.url(), "--clients", "3000", "--room-size", "10", "--ramp", "6000",
                                 "--duration", "2s", "--drain", "1s", "--profile", "heartbeat", "--position-interval",
                                 "5ms", "--quiet", "--out", report_file.string(), "--threshold", "lost>=0"},
                                dir.path(), 60s, {}, 19);
  INFO(run.out << run.err);
  CHECK(run.exit_code == 4);
  CHECK(run.out.find("result     INVALID") != std::string::npos);
  CHECK(run.out.find("--workers") != std::string::npos);  // what to do
  const auto r = load_report(report_file);
  CHECK(r.at("verdict").as_string() == "INVALID");
  CHECK(u(r.at("exit_code")) == 4);
  CHECK_FALSE(r.at("passed").as_bool());
  const auto& generator = r.at("generator").as_object();
  CHECK_FALSE(generator.at("healthy").as_bool());
  CHECK_FALSE(generator.at("reasons").as_array().empty());
  // The threshold itself passed: the verdict overrides it.
  CHECK(r.at("thresholds").as_array().at(0).as_object().at("passed").as_bool());
}

TEST_CASE("a light run against the echo target passes with a healthy generator", "[loadtest]") {
  EchoTarget echo;
  TempDir dir;
  const auto report_file = dir.path() / "report.json";
  // --max-lag 1s: the generator's health is judged by its own bound; a host that stalls the test
  // process for 100 ms (ctest -j2 under the sanitizers on two cores) must not turn this light run
  // INVALID. The INVALID case above has a test of its own.
  const auto run = run_loadtest({"--url", echo.url(), "--clients", "40", "--room-size", "4", "--duration", "3s",
                                 "--drain", "1s", "--profile", "heartbeat", "--quiet", "--out", report_file.string(),
                                 "--threshold", "lost==0", "--max-lag", "1s"},
                                dir.path(), 30s);
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("result     PASSED") != std::string::npos);
  const auto r = load_report(report_file);
  CHECK(r.at("verdict").as_string() == "PASSED");
  CHECK(r.at("generator").as_object().at("healthy").as_bool());
  CHECK(r.at("target").as_object().at("took_the_load").as_bool());
  CHECK(u(r.at("latency_ms").as_object().at("loop_lag").as_object().at("count")) > 0);
}

TEST_CASE("a target that stops reading holds the load back: NOT APPLIED, exit 5", "[loadtest]") {
  Node node;
  TempDir dir;
  const auto report_file = dir.path() / "report.json";
  // --max-lag 1s as above: what is judged here is the target.
  tandem::test::Process loadtest({TANDEM_BINARY, "loadtest", "--url", node.url(), "--clients", "8", "--room-size",
                                  "4", "--duration", "5s", "--drain", "1s", "--profile", "heartbeat",
                                  "--status-interval", "100ms", "--max-lag", "1s", "--quiet", "--out",
                                  report_file.string()},
                                 dir.path(), "loadtest");
  std::this_thread::sleep_for(2s);
  node.signal(SIGSTOP);  // the node reads nothing more: /status polls go unanswered
  const auto code = loadtest.wait(40s);
  node.signal(SIGCONT);
  INFO(loadtest.out() << loadtest.err());
  REQUIRE(code);
  CHECK(*code == 5);
  CHECK(loadtest.out().find("NOT APPLIED") != std::string::npos);
  const auto r = load_report(report_file);
  CHECK(r.at("verdict").as_string() == "NOT APPLIED");
  CHECK(r.at("generator").as_object().at("healthy").as_bool());
  const auto& target = r.at("target").as_object();
  CHECK_FALSE(target.at("took_the_load").as_bool());
  CHECK(counter(r, "status_skipped") > 0);
}

TEST_CASE("exit codes tell usage, threshold, unreachable and failed joins apart", "[loadtest]") {
  TempDir dir;
  SECTION("0: passed; {run} in --out names the report after the run") {
    EchoTarget echo;
    const auto run = run_loadtest({"--url", echo.url(), "--clients", "8", "--duration", "2s", "--drain", "1s",
                                   "--profile", "heartbeat", "--out", (dir.path() / "r-{run}.json").string()},
                                  dir.path(), 30s);
    INFO(run.out << run.err);
    CHECK(run.exit_code == 0);
    int reports = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("r-2") && name.ends_with(".json")) {
        ++reports;
        CHECK(run.err.find("report written to " + entry.path().string()) != std::string::npos);
        CHECK(load_report(entry.path()).at("verdict").as_string() == "PASSED");
      }
    }
    CHECK(reports == 1);
  }
  SECTION("1: a threshold missed") {
    EchoTarget echo;
    const auto run = run_loadtest({"--url", echo.url(), "--clients", "8", "--duration", "2s", "--drain", "1s",
                                   "--profile", "heartbeat", "--quiet", "--threshold", "join.max<1us"},
                                  dir.path(), 30s);
    INFO(run.out << run.err);
    CHECK(run.exit_code == 1);
    CHECK(run.out.find("result     FAILED") != std::string::npos);
  }
  SECTION("2: usage") {
    const auto run = run_loadtest({"--url", "ws://127.0.0.1:1/ws", "--max-lag", "soon"}, dir.path(), 20s);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find("--max-lag") != std::string::npos);
  }
  SECTION("3: the target is unreachable") {
    const auto run = run_loadtest({"--url", "ws://127.0.0.1:" + std::to_string(tandem::test::free_port()) + "/ws",
                                   "--clients", "10", "--duration", "5s"},
                                  dir.path(), 20s);
    CHECK(run.exit_code == 3);
    CHECK(run.err.find("cannot connect") != std::string::npos);
  }
  SECTION("3: most clients never joined") {
    Node node(0, {"limits.max_conns_per_ip=2"});
    TempDir run_dir;
    const auto report_file = run_dir.path() / "report.json";
    const auto run = run_loadtest({"--url", node.url(), "--clients", "20", "--room-size", "4", "--duration", "3s",
                                   "--drain", "1s", "--profile", "heartbeat", "--quiet", "--out",
                                   report_file.string()},
                                  run_dir.path(), 40s);
    INFO(run.out << run.err);
    CHECK(run.exit_code == 3);
    CHECK(run.out.find("result     UNREACHABLE") != std::string::npos);
    CHECK(load_report(report_file).at("verdict").as_string() == "UNREACHABLE");
  }
}

TEST_CASE("the JSON report has a per-second series and plain decimal numbers", "[loadtest]") {
  EchoTarget echo;
  TempDir dir;
  const auto report_file = dir.path() / "report.json";
  const auto run = run_loadtest({"--url", echo.url(), "--clients", "40", "--room-size", "4", "--ramp", "20",
                                 "--duration", "4s", "--drain", "1s", "--heartbeat-interval", "200ms",
                                 "--status-interval", "500ms", "--quiet", "--out", report_file.string()},
                                dir.path(), 30s);
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  const std::string text = tandem::test::read_file(report_file);
  // Boost.JSON alone would write 7.2553127553E1.
  CHECK(text.find("E1") == std::string::npos);
  CHECK(text.find("E-") == std::string::npos);
  CHECK(text.find("e+") == std::string::npos);
  const auto r = json::parse(text).as_object();
  const auto& series = r.at("series").as_array();
  REQUIRE(series.size() >= 4);
  // The ramp (20 clients a second) shows in the planned and connected clients of the first seconds.
  const auto& first = series.at(0).as_object();
  CHECK(u(first.at("clients_planned")) <= 21);
  std::uint64_t most_connected = 0;
  double sent = 0;
  std::uint64_t broadcasts = 0;
  std::uint64_t statuses = 0;
  double last_t = -1;
  for (const auto& v : series) {
    const auto& s = v.as_object();
    CHECK(s.at("t").to_number<double>() > last_t);
    last_t = s.at("t").to_number<double>();
    most_connected = std::max(most_connected, u(s.at("connected")));
    sent += s.at("frames_sent_per_s").to_number<double>();
    broadcasts += u(s.at("broadcast_ms").as_object().at("count"));
    statuses += u(s.at("status_ms").as_object().at("count"));
    for (const char* key : {"frames_received_per_s", "errors", "errors_per_s", "cpu_percent"}) CHECK(s.contains(key));
    for (const char* key : {"send_lag_ms", "loop_lag_ms", "write_wait_ms"}) {
      CHECK(s.at(key).as_object().contains("p99"));
    }
  }
  CHECK(most_connected == 40);
  CHECK(sent > 0);
  // Every recorded latency is in exactly one second of the series.
  CHECK(broadcasts == u(r.at("latency_ms").as_object().at("broadcast").as_object().at("count")));
  CHECK(statuses == u(r.at("latency_ms").as_object().at("status").as_object().at("count")));
}

TEST_CASE("stages ramp the clients up and down, as the series shows", "[loadtest]") {
  EchoTarget echo;
  TempDir dir;
  const auto report_file = dir.path() / "report.json";
  const auto run = run_loadtest({"--url", echo.url(), "--stage", "2s:20", "--stage", "2s:20", "--stage", "2s:0",
                                 "--room-size", "4", "--drain", "1s", "--profile", "heartbeat", "--quiet", "--out",
                                 report_file.string()},
                                dir.path(), 40s);
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  const auto r = load_report(report_file);
  CHECK(u(r.at("clients").as_object().at("target")) == 20);
  CHECK(counter(r, "leaves") >= 20);  // every client left once, ramping down
  CHECK(counter(r, "unintended_closes") == 0);
  bool full = false;
  bool ramping_down = false;
  for (const auto& v : r.at("series").as_array()) {
    const auto& s = v.as_object();
    const double t = s.at("t").to_number<double>();
    const auto connected = u(s.at("connected"));
    const auto planned = u(s.at("clients_planned"));
    INFO("t " << t << " planned " << planned << " connected " << connected);
    if (t < 1.5) CHECK(planned <= 15);
    if (t > 2.5 && t < 3.8) CHECK(planned == 20);
    if (t > 2.5 && t < 4.2) full = full || connected == 20;
    if (t > 4.8 && t < 5.6) {  // halfway down: 10 planned
      CHECK(planned <= 11);
      CHECK(connected <= 14);
      ramping_down = true;
    }
  }
  CHECK(full);
  CHECK(ramping_down);
}

namespace {

// A report as --out writes it, reduced to what `compare` reads.
std::string report_with(double broadcast_p99, double frames_per_s, int errors) {
  json::object latency{
      {"broadcast", json::object{{"count", 100}, {"p50", 2.0}, {"p99", broadcast_p99}, {"max", 40.0}}},
      {"status", json::object{{"count", 0}, {"p50", 0}, {"p99", 0}, {"max", 0}}}};
  return json::serialize(json::object{
      {"started_at", "2026-12-01T10:00:00Z"},
      {"verdict", "PASSED"},
      {"clients", json::object{{"target", 3000}}},
      {"latency_ms", latency},
      {"counters", json::object{{"sends_skipped", 0}}},
      {"rates_per_s", json::object{{"frames_sent", frames_per_s}, {"frames_received", 2 * frames_per_s},
                                   {"broadcasts_received", frames_per_s}}},
      {"errors", json::object{{"total", errors}, {"percent", 0.5}}},
      {"delivery", json::object{{"lost", 0}}}});
}

void write(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file) << text;
}

}  // namespace

TEST_CASE("compare holds run B against run A with ratios", "[loadtest]") {
  TempDir dir;
  write(dir.path() / "a.json", report_with(10.0, 1000, 0));
  write(dir.path() / "b.json", report_with(25.0, 900, 7));
  write(dir.path() / "nope.json", R"({"hello":1})");
  SECTION("two reports") {
    const auto run = run_loadtest({"compare", (dir.path() / "a.json").string(), (dir.path() / "b.json").string()},
                                  dir.path(), 20s);
    INFO(run.out << run.err);
    CHECK(run.exit_code == 0);
    auto row = [&](const std::string& label) {
      const auto at = run.out.find(label);
      REQUIRE(at != std::string::npos);
      return run.out.substr(at, run.out.find('\n', at) - at);
    };
    CHECK(row("broadcast p99").find("2.50×") != std::string::npos);
    CHECK(row("broadcast p50").find("1.00×") != std::string::npos);
    CHECK(row("frames sent").find("0.90×") != std::string::npos);
    CHECK(row("errors ").find("new") != std::string::npos);  // 0 before, 7 now
    CHECK(run.out.find("status p99") == std::string::npos);  // nothing measured in either run
  }
  SECTION("a file that is not a report is a usage error") {
    const auto run = run_loadtest(
        {"compare", (dir.path() / "a.json").string(), (dir.path() / "nope.json").string()}, dir.path(), 20s);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find("not a tandem loadtest report") != std::string::npos);
  }
}
