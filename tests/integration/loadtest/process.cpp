#include "process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/json.hpp>

namespace tandem::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "tandem-loadtest-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {

bool port_open(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Process::Process(std::vector<std::string> argv, const fs::path& dir, std::string name, ProcessOptions options)
    : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    if (options.max_open_files) {
      rlimit limit{static_cast<rlim_t>(*options.max_open_files), static_cast<rlim_t>(*options.max_open_files)};
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (reaped_) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

void Process::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

Node::Node(std::uint16_t port, std::vector<std::string> extra_settings)
    : port_(port ? port : free_port()), settings_(std::move(extra_settings)) {
  // Every simulated client comes from 127.0.0.1: its rooms are created from one address (a test's
  // own settings come later and win).
  settings_.insert(settings_.begin(), "limits.rooms_per_ip_minute=100000");
  start();
}

Node::~Node() { stop(); }

void Node::start() {
  std::vector<std::string> argv{TANDEM_BINARY, "serve",  "--host",      "127.0.0.1", "--port", std::to_string(port_),
                                "--data-dir",  (dir_.path() / "data").string(), "--log-level", "warn"};
  for (const auto& s : settings_) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  process_ = std::make_unique<Process>(argv, dir_.path(), "node" + std::to_string(generation_++));
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!port_open(port_)) {
    if (process_->wait(0ms)) throw std::runtime_error("tandem serve exited at start: " + process_->err());
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("tandem serve did not listen in 15 s");
    std::this_thread::sleep_for(50ms);
  }
}

void Node::stop() {
  if (!process_) return;
  process_->signal(SIGTERM);
  if (!process_->wait(15s)) process_->signal(SIGKILL);
  process_.reset();
}

void Node::restart() {
  stop();
  start();
}

void Node::signal(int sig) {
  if (process_) process_->signal(sig);
}

namespace {

// `argv` run at nice value `nice_value` (through nice(1)) when it is above 0.
std::vector<std::string> niced(std::vector<std::string> argv, int nice_value) {
  if (nice_value <= 0) return argv;
  argv.insert(argv.begin(), {"/usr/bin/nice", "-n", std::to_string(nice_value)});
  return argv;
}

}  // namespace

EchoTarget::EchoTarget(int nice_value) : port_(free_port()) {
  process_ = std::make_unique<Process>(
      niced({TANDEM_BINARY, "loadtest", "--echo-server", std::to_string(port_)}, nice_value), dir_.path(), "echo");
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!port_open(port_)) {
    if (process_->wait(0ms)) throw std::runtime_error("the echo target exited at start: " + process_->err());
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the echo target did not listen in 15 s");
    std::this_thread::sleep_for(50ms);
  }
}

std::string Node::log() const { return process_ ? process_->err() : std::string(); }

RunResult run_loadtest(const std::vector<std::string>& args, const fs::path& dir, std::chrono::milliseconds timeout,
                       ProcessOptions options, int nice_value) {
  static int counter = 0;
  std::vector<std::string> argv{TANDEM_BINARY, "loadtest"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv = niced(std::move(argv), nice_value);
  const auto started = std::chrono::steady_clock::now();
  Process p(argv, dir, "loadtest" + std::to_string(counter++), options);
  RunResult r;
  const auto code = p.wait(timeout);
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  r.exit_code = code ? *code : -1;
  if (!code) p.signal(SIGKILL);
  r.out = p.out();
  r.err = p.err();
  return r;
}

boost::json::object load_report(const fs::path& file) {
  const std::string text = read_file(file);
  if (text.empty()) throw std::runtime_error("no report at " + file.string());
  return boost::json::parse(text).as_object();
}

std::uint64_t u(const boost::json::value& v) { return boost::json::value_to<std::uint64_t>(v); }

std::uint64_t counter(const boost::json::object& report, const char* name) {
  return u(report.at("counters").as_object().at(name));
}

std::uint64_t latency_count(const boost::json::object& report, const char* name) {
  return u(report.at("latency_ms").as_object().at(name).as_object().at("count"));
}

}  // namespace tandem::test
