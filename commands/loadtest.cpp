#include <CLI/CLI.hpp>
#include <unistd.h>

#include <memory>

#include "commands/command.hpp"
#include "core/loadtest/compare.hpp"
#include "core/loadtest/echo_server.hpp"
#include "core/loadtest/options.hpp"
#include "core/loadtest/runner.hpp"

namespace tandem::commands {

namespace {

struct LoadtestOptions {
  loadtest::RawOptions raw;
  std::string log_level;
  std::string log_format;
  int echo_port = 0;
  std::string echo_host = "127.0.0.1";
  int echo_threads = 1;
  std::string compare_a;
  std::string compare_b;
};

}  // namespace

Runner add_loadtest(CLI::App& sub) {
  auto options = std::make_shared<LoadtestOptions>();
  auto& o = options->raw;
  sub.footer(
      "Profiles: extension (docs/protocol.md §9: JOIN+REQUEST_SYNC, PING 15s, POSITION_UPDATE 500ms, /status 2s,\n"
      "host HOST_HEARTBEAT 3s, play/pause 30s with re-send, seek 60s, WebRTC offers), heartbeat (PING 15s +\n"
      "HOST_HEARTBEAT 1s only), storm (all join at once, then every room seeks at the same instants),\n"
      "churn (extension + LEAVE/re-JOIN every ~10s). Interval flags take 500ms, 15s, … or off.\n"
      "Thresholds: 'p99<50ms' (broadcast), 'status.p99<50ms', 'join.max<1s', 'lost==0', 'errors<0.1%'.\n"
      "The generator judges itself: a run whose send lag or event-loop lag p99 exceeds --max-lag, or that\n"
      "skipped more than --max-skipped of its sends because it was late, is INVALID; one where the target\n"
      "stopped taking frames (full send queues, unanswered /status, writes waiting) is NOT APPLIED.\n"
      "No threshold turns either into a pass.\n"
      "Exit: 0 passed, 1 a threshold missed, 2 impossible parameters, 3 target unreachable or most clients\n"
      "never joined, 4 INVALID (the generator fell behind: add --workers or lower the load per worker),\n"
      "5 NOT APPLIED (the target held the load back).\n"
      "Examples:\n"
      "  tandem loadtest --url ws://tandem:4001/ws --stage 1m:3000 --stage 5m:3000 --stage 30s:0 -k 10 -w 2 \\\n"
      "      --threshold 'p99<50ms' --threshold lost==0 --out '/reports/loadtest-{run}.json' \\\n"
      "      --html '/reports/loadtest-{run}.html'   (the staging Job)\n"
      "  tandem loadtest compare last-release.json candidate.json\n"
      "  tandem loadtest --echo-server 9000 &  tandem loadtest --url ws://127.0.0.1:9000/ws -c 2000   (the generator alone)\n"
      "For load from one address raise the node's limits.max_conns_per_ip, or use --address-per-room.");
  sub.add_option("--url", o.urls, "Node WebSocket URL, ws://HOST:PORT/ws (repeatable: room members spread over them)");
  sub.add_option("-c,--clients", o.clients, "Simulated clients (default 100)");
  sub.add_option("-k,--room-size", o.room_size, "Members per room (default 4)");
  sub.add_option("--ramp", o.ramp, "New connections per second, all workers together (default 500; storm: 0 = all at once)");
  sub.add_option("-d,--duration", o.duration, "Run time from the first connect, ramp included (default 30s)");
  sub.add_option("--stage", o.stages,
                 "DURATION:CLIENTS, k6-style: ramp linearly to CLIENTS over DURATION (repeatable; replaces --clients, "
                 "--ramp and --duration; a lower count closes clients), e.g. --stage 30s:1000 --stage 2m:1000 --stage 30s:0");
  sub.add_option("--warmup", o.warmup, "Latencies before this are not recorded (default 0ms)");
  sub.add_option("--drain", o.drain, "After --duration: wait at most this for in-flight frames (default 5s)");
  sub.add_option("--profile", o.profile, "extension | heartbeat | storm | churn (default extension)");
  sub.add_option("-w,--workers", o.workers, "Processes (forked); results are merged (default 1)");
  sub.add_option("--bind", o.bind, "Source addresses or CIDR blocks, comma-separated (e.g. 127.0.0.2,127.1.0.0/16)");
  sub.add_flag("--address-per-room", o.address_per_room,
               "Each room's members share one source address (from --bind, else 127.16.0.0/12)");
  sub.add_option("-o,--out", o.out, "Write the full report as JSON to this file; {run} in the name becomes the start time and run id");
  sub.add_option("--html", o.html,
                 "Write the report as one self-contained HTML page with plots over time ({run} as for --out)");
  sub.add_option("--threshold", o.thresholds, "Condition to pass, e.g. 'p99<50ms' 'lost==0' 'errors<0.1%' (repeatable)");
  sub.add_option("--max-lag", o.max_lag,
                 "Bound on the generator's send lag, event-loop lag and write wait (p99) before the run is INVALID / NOT APPLIED (default 100ms)");
  sub.add_option("--max-skipped", o.max_skipped_percent,
                 "Percent of scheduled sends that may be skipped (late generator, or target pushing back) (default 0.1)");
  sub.add_option("--ping-interval", o.ping, "PING interval (default 15s)");
  sub.add_option("--pong-timeout", o.pong_timeout, "PONG watchdog per PING (default 10s)");
  sub.add_option("--position-interval", o.position, "POSITION_UPDATE interval (default 500ms)");
  sub.add_option("--status-interval", o.status, "GET /status interval (default 2s)");
  sub.add_option("--heartbeat-interval", o.heartbeat, "Host HOST_HEARTBEAT interval (default 3s; heartbeat: 1s)");
  sub.add_option("--play-pause-interval", o.play_pause, "Host play/pause toggle interval (default 30s)");
  sub.add_option("--seek-interval", o.seek, "Host seek interval (default 60s; storm: 10s)");
  sub.add_option("--ready-delay", o.ready_delay, "Delay between SEEK_PAUSE and READY (default 300ms)");
  sub.add_option("--churn-interval", o.churn, "Mean connection lifetime before LEAVE + re-JOIN (churn: 10s)");
  sub.add_option("--rejoin-delay", o.rejoin_delay, "Churn: pause between LEAVE and re-JOIN (default 1s)");
  sub.add_flag("--no-webrtc", o.no_webrtc, "Do not exchange OFFER/ANSWER on USER_JOINED");
  sub.add_flag("--no-leave", o.no_leave, "At the end close the sockets without LEAVE (rooms stay for rooms.empty_ttl)");
  sub.add_option("--sdp-bytes", o.sdp_bytes, "Size of the SDP in OFFER/ANSWER (default 1500)");
  sub.add_option("--connect-timeout", o.connect_timeout, "TCP connect + upgrade timeout (default 10s)");
  sub.add_flag("--progress", o.progress, "Print the progress line even when stderr is not a terminal");
  sub.add_flag("-q,--quiet", o.quiet, "No progress line, no start line");
  sub.add_option("--log-format", options->log_format, "text (the table) or json (the report as one JSON line on stdout)")
      ->check(CLI::IsMember({"text", "json", "auto"}));
  sub.add_option("--log-level", options->log_level, "warn, error or off imply --quiet")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  sub.add_option("--echo-server", options->echo_port,
                 "Instead of a run: serve a trivial echo target on this port (for measuring the loadtest itself)")
      ->check(CLI::Range(0, 65535));
  sub.add_option("--echo-host", options->echo_host, "Echo target listen address (default 127.0.0.1)");
  sub.add_option("--echo-threads", options->echo_threads, "Echo target I/O threads (default 1)")->check(CLI::Range(1, 64));
  auto* compare = sub.add_subcommand("compare", "Two --out reports side by side: B against A, with ratios");
  compare->add_option("A", options->compare_a, "The earlier report (e.g. the last release)")->required();
  compare->add_option("B", options->compare_b, "The report to hold against it")->required();
  compare->footer("Prints p50/p99/max of every latency kind, throughput, errors and delivery, each with B/A.\n"
                  "Exit: 0, or 2 when a file is not a readable report.");
  return [options, compare] {
    if (compare->parsed()) return loadtest::run_compare(options->compare_a, options->compare_b);
    if (options->echo_port > 0) {
      return loadtest::run_echo_server(options->echo_host, static_cast<std::uint16_t>(options->echo_port),
                                       options->echo_threads);
    }
    auto raw = options->raw;
    if (options->log_format == "json" || (options->log_format == "auto" && ::isatty(STDOUT_FILENO) == 0)) {
      raw.json_output = true;
    }
    if (options->log_level == "warn" || options->log_level == "error" || options->log_level == "off") raw.quiet = true;
    return loadtest::run(raw);
  };
}

}  // namespace tandem::commands
