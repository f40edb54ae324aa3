#pragma once

// Test fixtures for the loadtest: a temporary directory, a child process with captured output,
// and a real `tandem serve` node on a free loopback port.

#include <sys/types.h>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tandem::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();

std::string read_file(const std::filesystem::path& file);

struct ProcessOptions {
  std::optional<long> max_open_files;  // RLIMIT_NOFILE (soft and hard) of the child
};

// A child process; stdout and stderr go to files in `dir`. Killed (SIGKILL) if still running
// when destroyed.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::filesystem::path& dir, std::string name,
          ProcessOptions options = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits for the exit; returns the exit status (128 + signal when killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  void signal(int sig);
  pid_t pid() const { return pid_; }
  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::filesystem::path out_;
  std::filesystem::path err_;
};

// `tandem serve` in embedded mode on 127.0.0.1:port with a throwaway data directory.
class Node {
 public:
  explicit Node(std::uint16_t port = 0, std::vector<std::string> extra_settings = {});
  ~Node();
  std::uint16_t port() const { return port_; }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/ws"; }
  // SIGTERM, wait for the exit (the node closes its clients with 1012), then start again on the
  // same port and data directory.
  void restart();
  // Sends `sig` to the node (SIGSTOP to make it stop reading; SIGCONT before the fixture ends).
  void signal(int sig);
  std::string log() const;

 private:
  void start();
  void stop();

  TempDir dir_;
  std::uint16_t port_;
  std::vector<std::string> settings_;
  std::unique_ptr<Process> process_;
  int generation_ = 0;
};

// The loadtest's own echo target (`tandem loadtest --echo-server PORT`) on 127.0.0.1.
class EchoTarget {
 public:
  // `nice_value`: the process's nice value (19: it yields the CPU to every other test).
  explicit EchoTarget(int nice_value = 0);
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/ws"; }

 private:
  TempDir dir_;
  std::uint16_t port_;
  std::unique_ptr<Process> process_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

// Runs `tandem loadtest ARGS…`, at most `timeout`. A `nice_value` above 0 runs it at that nice value.
RunResult run_loadtest(const std::vector<std::string>& args, const std::filesystem::path& dir,
                       std::chrono::milliseconds timeout, ProcessOptions options = {}, int nice_value = 0);

// The JSON report a run wrote to `file`; throws when the file is missing, empty or not an object.
boost::json::object load_report(const std::filesystem::path& file);
std::uint64_t u(const boost::json::value& v);
// counters.NAME and latency_ms.NAME.count of a report.
std::uint64_t counter(const boost::json::object& report, const char* name);
std::uint64_t latency_count(const boost::json::object& report, const char* name);

}  // namespace tandem::test
